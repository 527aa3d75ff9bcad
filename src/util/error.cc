#include "util/error.h"

#include <cerrno>
#include <cstring>

namespace hull {

SystemError::SystemError(std::string_view what, int err)
    : Error(fmt::format("{}: {}", what, std::strerror(err))), code_(err) {}

void fail_errno(std::string_view what) { throw SystemError(what, errno); }

}  // namespace hull
