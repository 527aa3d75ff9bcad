// The GUID partition table of a Layout, as bytes (UEFI 2.10, chapter 5):
// a protective MBR, the primary header and entry array at the start, the
// backup array and header at the end. Written by hull itself: the tools
// that do it (sgdisk, sfdisk) add nothing here, and sgdisk sleeps two
// seconds per run for the kernel's sake, even on an image file.
#pragma once

#include <string>

#include "install/disk.h"

namespace hull::install {

struct GptImage {
  std::string head;  // LBA 0..33: protective MBR, header, 128 entries
  std::string tail;  // the last 33 LBAs: entries, then the backup header
};

// The table of `l` (at most 128 partitions, ASCII names of 36 characters
// or fewer; the disk a whole number of 512-byte sectors). Throws otherwise.
GptImage gpt_image(const Layout& l);

// A GUID "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" in GPT's on-disk byte order
// (the first three fields little-endian). Throws on a malformed GUID.
std::string guid_bytes(const std::string& guid);

}  // namespace hull::install
