#include "e2e/vm.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "util/error.h"
#include "util/file.h"

namespace hull::test {

namespace {

constexpr const char* kOvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
constexpr const char* kOvmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd";

std::string slurp(const std::string& path, size_t from = 0) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(from));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<size_t>(n);
}

// The last `n` lines of `text`, carriage returns removed.
std::string tail_lines(std::string text, int n) {
  std::erase(text, '\r');
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < n && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

Vm::Vm(VmOptions opts) : o_(std::move(opts)) {
  if (o_.disk.empty() || o_.workdir.empty()) fail("Vm: disk and workdir are required");
  serial_path_ = o_.workdir + "/" + o_.name + "-serial.log";
  qemu_log_ = o_.workdir + "/" + o_.name + "-qemu.log";
  if (o_.firmware == Firmware::kOvmf) {
    vars_path_ = o_.workdir + "/" + o_.name + "-OVMF_VARS.fd";
    run_ok({"cp", kOvmfVars, vars_path_});
  }
  // The SSH port is taken by QEMU a moment after free_port() released it:
  // on the rare collision QEMU exits at once, and we try another port.
  for (int attempt = 0;; ++attempt) {
    ssh_port_ = free_port();
    write_file_atomic(serial_path_, "");
    write_file_atomic(qemu_log_, "");
    started_ = std::chrono::steady_clock::now();
    qemu_ = Child(qemu_argv(), qemu_log_);
    sleep_ms(1000);
    if (qemu_.running()) break;
    std::string log = slurp(qemu_log_);
    if (attempt < 3 && log.find("host forwarding") != std::string::npos) continue;
    fail("qemu-system-x86_64 exited at start: {}", tail_lines(log, 10));
  }
}

Vm::~Vm() { qemu_.stop(); }

std::vector<std::string> Vm::qemu_argv() const {
  std::vector<std::string> a = {"qemu-system-x86_64", "-accel", "tcg", "-m", std::to_string(o_.memory_mib),
                                "-smp", std::to_string(o_.cpus), "-nographic", "-monitor", "none",
                                "-serial", "file:" + serial_path_,
                                "-drive", "file=" + o_.disk + ",format=raw,if=virtio"};
  if (o_.firmware == Firmware::kOvmf) {
    a.insert(a.end(), {"-machine", "q35",
                       "-drive", std::string("if=pflash,format=raw,unit=0,readonly=on,file=") + kOvmfCode,
                       "-drive", "if=pflash,format=raw,unit=1,file=" + vars_path_});
  }
  // guestfwd to a chardev ("-tcp:127.0.0.1:PORT") would open one connection
  // when QEMU starts and carry every guest connection over it: a second
  // connection after the registry closes the first gets nothing, and
  // concurrent ones interleave. "-cmd:" spawns a relay for each connection.
  std::string net = "user,id=n0,hostfwd=tcp:127.0.0.1:" + std::to_string(ssh_port_) + "-:22";
  if (o_.registry_port > 0)
    net += ",guestfwd=tcp:10.0.2.100:5000-cmd:socat STDIO TCP:127.0.0.1:" + std::to_string(o_.registry_port);
  a.insert(a.end(), {"-netdev", net, "-device", "virtio-net-pci,netdev=n0",
                     // entropy for the guest's first boot (SSH host keys) under TCG
                     "-device", "virtio-rng-pci"});
  if (!o_.kernel.empty()) {
    a.insert(a.end(), {"-kernel", o_.kernel, "-append", o_.append});
    if (!o_.initrd.empty()) a.insert(a.end(), {"-initrd", o_.initrd});
  }
  return a;
}

bool Vm::running() { return qemu_.running(); }

double Vm::uptime() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

std::string Vm::serial() const { return slurp(serial_path_); }

std::string Vm::serial_tail(int n) const { return tail_lines(serial(), n); }

void Vm::fail_with_log(const std::string& msg) const {
  std::string m = msg + "\n--- last 30 lines of " + serial_path_ + " ---\n" + serial_tail(30);
  std::string qlog = slurp(qemu_log_);
  if (!qlog.empty()) m += "\n--- qemu: ---\n" + tail_lines(qlog, 10);
  throw Error(m);
}

void Vm::mark() { mark_ = file_size(serial_path_); }

std::string Vm::wait_for(const std::string& regex, Seconds timeout) {
  const std::regex re(regex);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t scanned = mark_;  // complete lines before this offset did not match
  for (;;) {
    std::string text = slurp(serial_path_, scanned);
    size_t pos = 0;
    for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      std::string line = text.substr(pos, nl - pos);
      std::erase(line, '\r');
      if (std::regex_search(line, re)) return line;
    }
    scanned += pos;
    if (!qemu_.running()) fail_with_log("waiting for /" + regex + "/ on the serial console: QEMU exited");
    if (std::chrono::steady_clock::now() > deadline)
      fail_with_log("waiting for /" + regex + "/ on the serial console: no match in " +
                    std::to_string(timeout.count()) + " s");
    sleep_ms(250);
  }
}

std::vector<std::string> Vm::ssh_argv(const std::string& cmd, Seconds timeout) const {
  return {"timeout", "-k", "5", std::to_string(timeout.count()),
          "ssh", "-i", o_.ssh_key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
          "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=10", "-p", std::to_string(ssh_port_),
          "root@127.0.0.1", cmd};
}

void Vm::wait_for_ssh(Seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  ProcessResult last;
  for (;;) {
    last = run(ssh_argv("true", Seconds(20)));
    if (last.ok()) break;
    if (!qemu_.running()) fail_with_log("waiting for sshd in the guest: QEMU exited");
    if (std::chrono::steady_clock::now() > deadline)
      fail_with_log("sshd in the guest did not answer in " + std::to_string(timeout.count()) +
                    " s; last ssh (exit " + std::to_string(last.exit_code) + "): " + last.err);
    sleep_ms(2000);
  }
  ssh_ready_ = true;
}

ProcessResult Vm::ssh(const std::string& cmd, Seconds timeout) {
  if (!ssh_ready_) wait_for_ssh();
  return run(ssh_argv(cmd, timeout));
}

std::string Vm::ssh_ok(const std::string& cmd, Seconds timeout) {
  ProcessResult r = ssh(cmd, timeout);
  if (!r.ok()) {
    std::string why = r.exit_code == 124 ? "timed out after " + std::to_string(timeout.count()) + " s"
                                         : "exit " + std::to_string(r.exit_code);
    fail_with_log("in the guest: `" + cmd + "` failed (" + why + ")\nstdout: " + tail_lines(r.out, 20) +
                  "\nstderr: " + tail_lines(r.err, 20));
  }
  return r.out;
}

double Vm::reboot(Seconds timeout, const std::string& marker) {
  mark();
  auto t0 = std::chrono::steady_clock::now();
  ssh("systemctl reboot", Seconds(30));  // the connection may drop as sshd stops: not an error
  ssh_ready_ = false;
  wait_for(marker.empty() ? o_.boot_marker : marker, timeout);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Vm::wait_for_reboot(const std::string& marker, Seconds timeout) {
  auto t0 = std::chrono::steady_clock::now();
  wait_for(marker, timeout);
  ssh_ready_ = false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Vm::poweroff(Seconds timeout) {
  if (!qemu_.running()) return;
  ssh("systemctl poweroff", Seconds(30));
  ssh_ready_ = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (qemu_.running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      qemu_.stop();
      fail_with_log("the guest did not power off in " + std::to_string(timeout.count()) + " s");
    }
    sleep_ms(250);
  }
}

}  // namespace hull::test
