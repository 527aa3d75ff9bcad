#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace hull {

std::string human_bytes(uint64_t n, bool binary) {
  const char* decimal[] = {"B", "kB", "MB", "GB", "TB"};
  const char* iec[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  const double step = binary ? 1024 : 1000;
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= step && u < 4) {
    v /= step;
    u++;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, (binary ? iec : decimal)[u]);
}

ProgressBar::ProgressBar(Progress* owner, std::string label, uint64_t total)
    : owner_(owner), label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::add(uint64_t n) {
  if (!owner_->enabled_) return;
  {
    std::lock_guard lk(owner_->mu_);
    done_ += n;
  }
  owner_->changed(false);
}

void ProgressBar::set(uint64_t done) {
  if (!owner_->enabled_) return;
  {
    std::lock_guard lk(owner_->mu_);
    done_ = done;
  }
  owner_->changed(false);
}

void ProgressBar::finish(std::string status) {
  if (!owner_->enabled_) return;
  {
    std::lock_guard lk(owner_->mu_);
    status_ = std::move(status);
    done_ = total_;
  }
  owner_->changed(true);
}

Progress::Progress(bool quiet, bool force) : quiet_(quiet), enabled_(!quiet && (force || isatty(2))) {}

Progress::~Progress() {
  if (!enabled_) return;
  std::lock_guard lk(mu_);
  draw_locked();
}

ProgressBar* Progress::bar(std::string label, uint64_t total) {
  std::lock_guard lk(mu_);
  bars_.push_back(std::unique_ptr<ProgressBar>(new ProgressBar(this, std::move(label), total)));
  return bars_.back().get();
}

void Progress::message(const std::string& text) {
  if (quiet_) return;
  std::lock_guard lk(mu_);
  if (enabled_ && drawn_lines_ > 0) {
    fmt::print(stderr, "\x1b[{}A\x1b[J", drawn_lines_);
    drawn_lines_ = 0;
  }
  fmt::print(stderr, "{}\n", text);
  if (enabled_) draw_locked();
}

void Progress::changed(bool force) {
  std::lock_guard lk(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw_locked();
}

void Progress::draw_locked() {
  std::string out;
  if (drawn_lines_ > 0) out += fmt::format("\x1b[{}A", drawn_lines_);
  auto now = std::chrono::steady_clock::now();
  for (auto& b : bars_) {
    out += "\r\x1b[K";
    if (!b->status_.empty()) {
      out += fmt::format("{:<24} {:>10}  {}\n", b->label_, human_bytes(b->total_), b->status_);
      continue;
    }
    double secs = std::chrono::duration<double>(now - b->start_).count();
    double rate = secs > 0 ? static_cast<double>(b->done_) / secs : 0;
    std::string eta = "--";
    if (rate > 0 && b->total_ > b->done_) {
      auto left = static_cast<uint64_t>(static_cast<double>(b->total_ - b->done_) / rate);
      eta = fmt::format("{}:{:02}", left / 60, left % 60);
    }
    out += fmt::format("{:<24} {:>10} / {:<10} {:>10}/s  ETA {}\n", b->label_, human_bytes(b->done_),
                       human_bytes(b->total_), human_bytes(static_cast<uint64_t>(rate)), eta);
  }
  drawn_lines_ = bars_.size();
  fputs(out.c_str(), stderr);
  fflush(stderr);
}

}  // namespace hull
