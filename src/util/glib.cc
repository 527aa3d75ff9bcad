#include "util/glib.h"

#include "util/error.h"

namespace hull {

void GErr::raise(std::string_view what) {
  std::string msg = e_ ? e_->message : "unknown error";
  throw Error(what.empty() ? msg : std::string(what) + ": " + msg);
}

}  // namespace hull
