// The stateroot's /var at install: seeded from the image's /var.
#pragma once

#include <ostree.h>

#include <string>

namespace hull::sysroot {

// Seeds ROOT/ostree/deploy/STATEROOT/var from the /var of the image commit
// `commit`: copies (a change in /var must never alter the repository's
// objects, so no hard links) what is not there yet, keeping owners and
// modes, never following links; what the machine has already wins.
// Upgrades never do this: /var is the machine's.
void seed_var(OstreeRepo* repo, const std::string& commit, const std::string& root, const std::string& stateroot);

}  // namespace hull::sysroot
