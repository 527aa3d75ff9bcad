// libostree's per-directory /var notes, collected and said once.
#pragma once

#include <string>
#include <vector>

#include "util/stderr_capture.h"

namespace hull::sysroot {

// libostree (2022.7) lints every new deployment from
// ostree_sysroot_deploy_tree_with_options (and the staging call) by
// printing, with fprintf(stderr, ...), one line for each entry of the
// commit's /var:
//   note: Deploying commit C which contains content in /var/X that will be ignored.
// There is no flag to turn it off. It is wrong for an install, where hull
// seeds the stateroot's /var from the image itself (seed_var), and on an
// upgrade sixteen lines say one thing. So stderr is captured around that
// one call only (util/stderr_capture.h); the notes are kept as the /var
// entries they name, and every other line (libostree's, GLib's, another
// thread's) is written back to stderr unchanged, so nothing else is lost.
//
// Why not deploy the image without its /var: the deployment must be of the
// image's own commit (status reads its metadata, prune keeps it by
// checksum), and a second commit per deploy would cost a commit and a ref.
class VarNotes {
 public:
  // Ends the capture, writes back what was not a note, and returns the
  // /var entries libostree named.
  std::vector<std::string> finish();


 private:
  StderrCapture capture_;
};


// One line in hull's words for the /var entries libostree would have
// listed one by one, for an upgrade or a switch (an install seeds /var and
// says nothing). Names are shown only when they are plain printable ASCII.
std::string var_note(const std::vector<std::string>& entries);

}  // namespace hull::sysroot
