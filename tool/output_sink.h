// Where the tool's output goes: a sink that takes text and says whether it arrived.
//
// The tool renders into a buffer and hands it to a sink when the command has answered (or, for
// a streaming command such as `check`, in pieces once its input is known to be good). main()
// uses an FdSink on stdout, which checks every write(2): output lost to a full disk, a closed
// descriptor or a broken pipe is an error, never a success. Tests use a StringSink.
#pragma once

#include <string>
#include <string_view>

#include "iovamap/result.h"

namespace iovamap::tool {

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Delivers all of `text`, or says why not (ErrorKind::kSystem, with the errno).
  virtual Status write(std::string_view text) = 0;
};

// Keeps everything in `text`.
class StringSink : public OutputSink {
 public:
  Status write(std::string_view data) override {
    text.append(data);
    return {};
  }
  std::string text;
};

// Writes to a descriptor (not closed here), retrying short writes and EINTR.
class FdSink : public OutputSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  Status write(std::string_view text) override;

 private:
  int fd_;
};

}  // namespace iovamap::tool
