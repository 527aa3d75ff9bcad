// A QEMU virtual machine for the end-to-end tests: one raw disk, TCG (KVM
// does not work on these machines), the serial console in a log file, QEMU
// user networking with SSH forwarded from 127.0.0.1 and a registry reachable
// from the guest at 10.0.2.100:5000. Driven through the serial log
// (wait_for) and SSH (ssh) with a key the test injected into the disk.
//
// Every wait is bounded; an Error from a Vm names what was awaited and ends
// with the last 30 lines of the serial log. The destructor kills QEMU.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace hull::test {

enum class Firmware { kSeaBios, kOvmf };

struct VmOptions {
  std::string disk{};               // raw disk image (booted read-write)
  std::string workdir{};            // serial log, QEMU log, OVMF vars go here
  std::string ssh_key{};            // private key; root's authorized_keys on the disk holds its .pub
  Firmware firmware = Firmware::kSeaBios;
  int memory_mib = 2048;
  int cpus = 2;
  // 127.0.0.1:PORT on the host that the guest reaches as 10.0.2.100:5000
  // (QEMU guestfwd, one socat relay per connection); 0: none.
  int registry_port = 0;
  // What marks a finished boot in the serial log (reboot() waits for it).
  std::string boot_marker = "HULL-E2E-BOOTED";
  // Direct kernel boot instead of the firmware's boot loader (bench).
  std::string kernel{}, initrd{}, append{};
  std::string name = "vm";          // prefix of the log files
};

class Vm {
 public:
  using Seconds = std::chrono::seconds;

  // Starts QEMU (does not wait for the guest). Throws Error if QEMU cannot
  // start or exits at once.
  explicit Vm(VmOptions opts);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Waits until `regex` (ECMAScript) matches a line of the serial log
  // written since the last mark (start, reboot, or mark()); returns the
  // matching line. Throws if QEMU exits or `timeout` passes.
  std::string wait_for(const std::string& regex, Seconds timeout);
  // Moves the mark to the current end of the serial log.
  void mark();

  // Runs `cmd` in the guest as root over SSH. The first call waits (up to
  // `connect_timeout`, default 180 s) for sshd to answer; each command is
  // bounded by `timeout`. ssh() returns the result whatever the exit
  // code; ssh_ok() throws unless it is 0 and returns stdout.
  ProcessResult ssh(const std::string& cmd, Seconds timeout = Seconds(120));
  std::string ssh_ok(const std::string& cmd, Seconds timeout = Seconds(120));
  void wait_for_ssh(Seconds timeout = Seconds(180));

  // `systemctl reboot` in the guest, then waits for the boot marker of the
  // next boot (or for `marker`, a regex, when given: a boot that needs
  // several resets to get there); returns the seconds from the command to it.
  double reboot(Seconds timeout = Seconds(600), const std::string& marker = "");
  // The guest reboots on its own (a unit, a timer): waits for `marker` in
  // the serial log written since the last mark(); the next ssh() waits for
  // sshd again. Returns the seconds it waited.
  double wait_for_reboot(const std::string& marker, Seconds timeout);
  // `systemctl poweroff`, waits for QEMU to exit (else kills it).
  void poweroff(Seconds timeout = Seconds(180));
  // Seconds since QEMU started.
  double uptime() const;
  bool running();

  // The serial log so far, its last `n` lines, and where it lives.
  std::string serial() const;
  std::string serial_tail(int n = 30) const;
  const std::string& serial_path() const { return serial_path_; }
  int ssh_port() const { return ssh_port_; }

  // Throws Error("MSG\n--- last 30 lines of the serial log ---\n...").
  [[noreturn]] void fail_with_log(const std::string& msg) const;

 private:
  std::vector<std::string> qemu_argv() const;
  std::vector<std::string> ssh_argv(const std::string& cmd, Seconds timeout) const;

  VmOptions o_;
  std::string serial_path_, qemu_log_, vars_path_;
  int ssh_port_ = 0;
  size_t mark_ = 0;
  bool ssh_ready_ = false;
  std::chrono::steady_clock::time_point started_;
  Child qemu_;
};

}  // namespace hull::test
