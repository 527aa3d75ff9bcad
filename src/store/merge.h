// Stacking layer commits into the image's tree, as a container runtime
// stacks layers: later layers win, `.wh.NAME` removes NAME from the layers
// below, `.wh..wh..opq` empties its directory of what the layers below put
// there; a directory that a layer holds only as the parent of its entries
// keeps the owner, mode and xattrs the layers below gave it. The result is
// laid out for libostree's deployments:
//   - /etc of the image becomes /usr/etc (the base of the three-way merge);
//   - /dev, /proc, /sys, /run, /tmp are empty mount points;
//   - /var stays in the tree: it is copied to the stateroot at install only.
// Only dirtree and dirmeta objects are read; file contents are shared.
#pragma once

#include <ostree.h>

#include <string>
#include <vector>

#include "util/glib.h"

namespace hull::store {

struct MergeOptions {
  // Moves /etc to /usr/etc as deployments want it. Off for tools that
  // rewrite the image itself (rechunk/): /etc stays where the image had it.
  bool etc_to_usr_etc = true;
};

// Builds the merged tree of `layer_commits` (bottom first) and writes it;
// returns the root as an OstreeRepoFile. `repo` must be in a transaction.
GRef<GFile> merge_layers(OstreeRepo* repo, const std::vector<std::string>& layer_commits,
                         const MergeOptions& opts = {});

}  // namespace hull::store
