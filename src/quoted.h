// Private: untrusted input shown in an error message, safely and briefly.
//
// Whatever a user or a hostile snapshot puts in a file can reach a message: a kernel version, a
// region type, a device name, a command-line operand. quoted() shows at most kShownBytes of it,
// in quotes, with control characters, quotes, backslashes and non-ASCII bytes escaped, and says
// how long it was when it had to cut: "'6.12\r'", "'xxxx...' ... (104857600 bytes)".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace iovamap::detail {

// How much of a text a message shows.
inline constexpr size_t kShownBytes = 64;

// `text` quoted for a message (see the file comment).
std::string quoted(std::string_view text);

}  // namespace iovamap::detail
