// Capturing what a library writes to stderr (fd 2) during one call, for a
// library that prints there with no way to turn it off (libostree's
// fprintf(stderr, "note: ...")). The capture is process-wide while it
// lasts: anything any thread or child process writes to fd 2 in that time
// is captured too, so a caller must hand back what it does not consume
// (see replay_stderr) and keep the window to the one call.
#pragma once

#include <string>
#include <string_view>

#include "util/fd.h"

namespace hull {

class StderrCapture {
 public:
  // Flushes stdio's stderr and points fd 2 at an anonymous memory file. If
  // that cannot be set up (no memfd, no spare descriptor), nothing is
  // captured and finish() returns "": output then goes where it always did.
  StderrCapture();
  // Restores fd 2 if finish() was not called (output captured so far is
  // dropped); a backstop for errors thrown inside the window.
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Flushes stderr, points fd 2 back where it was, and returns everything
  // written to it since construction. Later calls return "".
  std::string finish();

 private:
  void restore();
  UniqueFd mem_;
  UniqueFd saved_;
};

// Writes `text` to fd 2 as it is (best effort: a failing stderr is not an
// error worth failing an operation for).
void replay_stderr(std::string_view text);

}  // namespace hull
