// Named, timed phases of a long command (mold's main: a straight list of
// phases). Each phase announces itself through Progress, adds its name as
// context to any error, and records its wall time for --verbose reports.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/progress.h"

namespace hull {

// (phase name, seconds), in the order the phases ran.
using PhaseTimes = std::vector<std::pair<std::string, double>>;

class Phases {
 public:
  // `progress` may be null; with `quiet` nothing is announced.
  Phases(Progress* progress, bool quiet, PhaseTimes& out) : progress_(progress), quiet_(quiet), out_(out) {}

  // Runs fn() as the phase `name`.
  template <typename F>
  void run(const std::string& name, F&& fn) {
    if (!quiet_ && progress_) progress_->message(name + "...");
    auto t0 = std::chrono::steady_clock::now();
    with_context(name, fn);
    out_.emplace_back(name, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

 private:
  Progress* progress_;
  bool quiet_;
  PhaseTimes& out_;
};

}  // namespace hull
