// Reaching the image a deployment follows before an upgrade: the origin is
// opened and its top document fetched once, so that an unreachable origin
// is one clear line, and the pull that follows does not ask again.
#pragma once

#include <ostree.h>

#include <memory>

#include "image/source.h"
#include "sysroot/sysroot.h"

namespace hull::sysroot {

// Opens the image that `from` follows and fetches its top document. An
// origin that cannot be read (a layout that is gone, a registry that
// refuses the connection) is one line that names it and says how to follow
// another image; later failures keep their own messages.
std::unique_ptr<image::Source> reach_origin(Context& ctx, OstreeSysroot* s, const image::ImageName& name);

}  // namespace hull::sysroot
