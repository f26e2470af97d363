// Private: whether a descriptor may be read as user input (input_file.h, map_file.h).
#pragma once

#include <string>

#include "iovamap/result.h"

namespace iovamap {

// `named`: a file the user named, which must be a regular file; else a descriptor handed over
// (stdin): a regular file, a pipe, a socket, a terminal or /dev/null. Size caps are the
// caller's. A directory is EISDIR, a closed descriptor EBADF, anything
// else EINVAL naming its kind; errors name `name`.
Status check_input_fd(int fd, const std::string& name, bool named);

}  // namespace iovamap
