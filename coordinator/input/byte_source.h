// ByteSource: the bytes the user loader reads (user_loader.h), from a file or stdin (InputFile)
// or from a caller's std::istream (StreamSource).
//
// A source is read front to back once, by one thread. It names itself for messages: the path,
// "<stdin>" or "<stream>"; the loader's errors say that name and no other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/base/status.h"

namespace pixelmill {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Reads up to `n` bytes into `dst`, looping until `n` bytes or end of input. Returns the
  // bytes read (fewer than n only at end of input). `stop` (if set) is asked between reads (and,
  // where the source can wait for input, while waiting); once it says true the read fails with
  // code kInterrupted. Code kIo when the source cannot be read.
  virtual Result<size_t> Read(char* dst, size_t n, const std::function<bool()>& stop) = 0;
  // Size in bytes when known up front, 0 if unknown (pipes, stdin).
  virtual uint64_t size_hint() const = 0;
  // For messages: a path, "<stdin>" or "<stream>".
  virtual const std::string& name() const = 0;
};

}  // namespace pixelmill
