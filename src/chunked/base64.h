// Private to hull_chunked: standard base64 with padding (RFC 4648), as Go's
// encoding/base64.StdEncoding writes it and encoding/json reads []byte.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hull::chunked {

std::string base64_encode(std::string_view data);
// nullopt for anything that is not padded base64 (as Go's decoder, the
// bits under the padding are not checked).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace hull::chunked
