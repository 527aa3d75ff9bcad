// oci-archive: an OCI image layout packed in a plain tar file.
#pragma once

#include <string>

namespace hull::image {

// Unpacks the layout in `archive` into the existing directory `dir`.
// Only regular files and directories are accepted; absolute names, ".."
// components, links and special files are refused naming the entry.
void extract_layout_archive(const std::string& archive, const std::string& dir);

// Packs the layout directory `dir` into `archive` (pax tar), written to a
// temporary name and renamed, so an existing archive is replaced whole or
// not at all.
void write_layout_archive(const std::string& dir, const std::string& archive);

}  // namespace hull::image
