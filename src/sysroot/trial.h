// Boot counting: the trial of a new default deployment, kept in a GRUB
// environment block that GRUB counts down and hull arms and blesses.
//
// Where the state lives, and why there: /boot/loader.N/hullenv, beside the
// syslinux.cfg libostree writes into the same loader.N. libostree switches
// the boot menu by renaming /boot/loader to point at a new loader.N (after a
// full sync of /boot), and keeps other files in a loader.N it rewrites (it
// wipes only loader.N/entries). hull writes the next trial state into the
// loader.N that libostree is about to fill, before libostree writes: the
// new menu and its counter go live in the same rename.
//
// That needs libostree to write a *new* loader.N on every change of the boot
// order. It does unless every position keeps the same kernel, initramfs,
// kernel arguments and version (then it only swaps the /ostree/boot.N.M
// links and the menu file stays). hull makes that impossible for two
// different deployments: each one carries its own `hull.entry=NONCE` kernel
// argument (entry_karg()), so positions compare unequal whenever the
// deployments differ. The nonce also tells userspace which deployment
// booted, and the block names the nonce on trial: assessment is by
// identity, never by position.
//
// The crash windows (power cut at any instant):
//   - arming (upgrade, switch, rollback, staged finalization): before the
//     rename, the old menu and the old block (whatever they were); after
//     it, the new menu and a full counter. The new loader.N is on disk
//     before the rename (libostree syncs /boot, then renames, then fsyncs
//     /boot).
//   - GRUB's countdown: save_env rewrites the block's sectors in place; a
//     torn write is a block GRUB or hull reads as not armed only if the
//     header is gone (then GRUB boots the default, hull records nothing).
//   - blessing: the block is replaced by rename (write_current()), then
//     /boot is synced (and frozen/thawed when it is a mount of its own,
//     since GRUB does not replay the ext4 journal): before, the trial goes
//     on (GRUB counts one more try, hull blesses again); after, it is over.
//   - a permanent rollback on the fallback boot: a disarmed block goes into
//     the new loader.N with the reordered menu; before the rename the
//     fallback simply repeats on the next boot.
//
// GRUB's side (boot::grub_cfg() in boot/grub.h): load_env of hull_trial and hull_left
// only; if hull_trial is 1, hull_left counts down with plain comparisons
// (Debian's GRUB 2.06 has no `increment`) and is saved with save_env; at 0
// GRUB boots the second menu entry (the previous deployment). If save_env
// fails GRUB boots the previous deployment as well: a counter that cannot
// count must not retry an untested deployment forever.
//
// No processes, no libostree: paths and bytes only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace hull::sysroot {

// GRUB's environment block: "# GRUB Environment Block\n", then name=value
// lines, padded with '#' to exactly 1024 bytes. Values may not hold a
// newline or a backslash (hull writes none). Throws if it does not fit.
std::string render_env_block(const std::map<std::string, std::string>& vars);
// Reads a block as GRUB does (lines after the header, '#' lines skipped,
// backslash escapes undone). Throws on a missing header or a wrong size.
std::map<std::string, std::string> parse_env_block(std::string_view block);

// The most tries hull arms (grub.cfg counts down from at most this).
constexpr int kMaxTries = 10;
constexpr int kDefaultTries = 3;

struct Trial {
  bool armed = false;     // hull_trial=1: the default entry is on trial
  int tries = 0;          // hull_tries: how many boots it was given
  int left = 0;           // hull_left: boots GRUB will still give it
  std::string entry;      // hull_entry: the hull.entry nonce of the deployment on trial
  std::string armed_at;   // hull_armed_at: RFC 3339 UTC, for status
  std::string what;       // hull_what: a human name of it ("IMAGE (VERSION)"), for status
  friend bool operator==(const Trial&, const Trial&) = default;
};

// A trial of `tries` boots of the deployment with nonce `entry`.
Trial arm(const std::string& entry, int tries, const std::string& what);

std::map<std::string, std::string> trial_vars(const Trial& t);
Trial trial_from_vars(const std::map<std::string, std::string>& vars);

// The file GRUB reads, relative to /boot.
constexpr const char* kEnvFile = "hullenv";

// The live trial: BOOT/loader/hullenv. No file, or a block that cannot be
// read: not armed.
Trial read_current(const std::string& boot_dir);

// The bootversion BOOT/loader points at (0 or 1).
int current_bootversion(const std::string& boot_dir);

// Before libostree switches the deployments: writes `next` into the
// loader.N libostree will fill (the other bootversion), atomically.
void prepare_next(const std::string& boot_dir, const Trial& next);

// After libostree's switch: true if BOOT/loader moved from `before`
// (the prepared state went live with it).
bool switched(const std::string& boot_dir, int before);

// Replaces the live block (BOOT/loader/hullenv) by rename, then makes it
// visible to GRUB: fsync, syncfs, and FIFREEZE/FITHAW of /boot when it is a
// mount point of its own (as libostree does before a switch).
void write_current(const std::string& boot_dir, const Trial& t);

// True if BOOT/grub/grub.cfg counts boots (written by a hull with boot
// counting). Disks installed before it keep their grub.cfg: nothing is
// armed there.
bool counting_supported(const std::string& boot_dir);

// The kernel argument that makes each deployment's boot entry unique:
// "hull.entry=" + 16 hex digits from the kernel's random source.
std::string new_entry_karg();
constexpr std::string_view kEntryKarg = "hull.entry=";
// The nonce of a kernel argument list ("" if none).
std::string entry_of(std::string_view kargs_line);

// /etc/hull/boot.toml (every key optional):
//   tries = 3            # boots a new default deployment gets; 0: no boot counting
//   check-timeout = 300  # seconds each health check may run
struct BootConfig {
  int tries = kDefaultTries;
  int check_timeout = 300;
};
// Missing file: the defaults. Unknown keys and values out of range are
// refused, naming the file.
BootConfig load_boot_config(const std::string& path);
BootConfig parse_boot_config(std::string_view text, const std::string& path);

}  // namespace hull::sysroot
