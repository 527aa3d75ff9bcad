// Progress display for long work: one line per task (a layer being fetched,
// a blob being pushed) with bytes, rate and ETA, redrawn in place at most
// ten times a second on a terminal. Off when stderr is not a terminal or
// with --quiet: then every call is cheap and prints nothing. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hull {

class Progress;

class ProgressBar {
 public:
  // Adds `n` bytes done.
  void add(uint64_t n);
  // Sets the bytes done (after a restart from zero, for example).
  void set(uint64_t done);
  // Marks the task done with a short status ("done", "exists", "skipped").
  void finish(std::string status);

 private:
  friend class Progress;
  ProgressBar(Progress* owner, std::string label, uint64_t total);
  Progress* owner_;
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  std::string status_;
  std::chrono::steady_clock::time_point start_;
};

class Progress {
 public:
  // Enabled only if `!quiet` and stderr is a terminal (or force is true).
  explicit Progress(bool quiet, bool force = false);
  ~Progress();
  bool enabled() const { return enabled_; }
  // A new line; the pointer stays valid for the Progress's lifetime.
  ProgressBar* bar(std::string label, uint64_t total);
  // A line of text above the bars (printed even when bars are off, unless quiet).
  void message(const std::string& text);

 private:
  friend class ProgressBar;
  void changed(bool force);
  void draw_locked();
  bool quiet_;
  bool enabled_;
  std::mutex mu_;
  std::vector<std::unique_ptr<ProgressBar>> bars_;
  size_t drawn_lines_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "12.3 MB", "1.0 GB"; with `binary`, powers of 1024: "10.0 GiB".
std::string human_bytes(uint64_t n, bool binary = false);

}  // namespace hull
