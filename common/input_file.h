// InputFile: a file or stdin ("-") opened for sequential reading of untrusted input.
//
// Opening refuses directories and other non-regular, non-pipe inputs with an error naming the
// path. Reads retry on EINTR. Owns its descriptor (except stdin, which it never closes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace pixelmill {

class InputFile {
 public:
  // Opens `path`; "-" means standard input.
  static Result<InputFile> Open(const std::string& path);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  // Reads up to `n` bytes into `dst`, looping until `n` bytes or end of input. Returns the
  // bytes read (fewer than n only at end of input).
  Result<size_t> Read(char* dst, size_t n);
  // Size in bytes for regular files, 0 if unknown (pipes, stdin).
  uint64_t size_hint() const { return size_hint_; }
  const std::string& name() const { return name_; }

 private:
  InputFile(int fd, bool owned, uint64_t size_hint, std::string name)
      : fd_(fd), owned_(owned), size_hint_(size_hint), name_(std::move(name)) {}

  int fd_;
  bool owned_;
  uint64_t size_hint_;
  std::string name_;  // for messages: the path, or "<stdin>"
};

}  // namespace pixelmill
