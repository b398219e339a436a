// InputFile: a file or stdin ("-") opened for sequential reading of untrusted input; the
// ByteSource the coordinator's loader reads.
//
// Opening refuses directories and other non-regular, non-pipe inputs with an error naming the
// path. Reads retry on EINTR and can be stopped: a pipe or terminal that sends nothing is waited
// for in slices, so a stop request (a signal) ends even a read that would block forever. Owns
// its descriptor (except stdin, which it never closes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/base/status.h"
#include "coordinator/input/byte_source.h"

namespace pixelmill {

class InputFile final : public ByteSource {
 public:
  // Opens `path`; "-" means standard input.
  static Result<InputFile> Open(const std::string& path);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  // Reads up to `n` bytes into `dst`, looping until `n` bytes or end of input. Returns the
  // bytes read (fewer than n only at end of input). `stop` (if set) is asked between reads and
  // at least every kStopCheckMs while waiting for input; once it says true the read fails with
  // code kInterrupted.
  Result<size_t> Read(char* dst, size_t n, const std::function<bool()>& stop = nullptr) override;
  static constexpr int kStopCheckMs = 100;
  // Size in bytes for regular files, 0 if unknown (pipes, stdin).
  uint64_t size_hint() const override { return size_hint_; }
  const std::string& name() const override { return name_; }

 private:
  InputFile(int fd, bool owned, bool regular, uint64_t size_hint, std::string name)
      : fd_(fd), owned_(owned), regular_(regular), size_hint_(size_hint), name_(std::move(name)) {}

  int fd_;
  bool owned_;
  bool regular_;  // a regular file: a read never waits for a writer
  uint64_t size_hint_;
  std::string name_;  // for messages: the path, or "<stdin>"
};

}  // namespace pixelmill
