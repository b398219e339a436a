// StreamSource: a caller's std::istream as the user loader's ByteSource (the C++ API's
// Runner::Run(std::istream&)), read as the loader asks for it: never copied whole.
//
// It keeps the first and the last `kept_bytes` bytes it has read, so the caller can identify the
// input for a later resume (run_state.h's IdentifyEnds) without holding all of it. Does not own
// the stream, which must outlive it. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <string_view>

#include "coordinator/input/byte_source.h"

namespace pixelmill {

class StreamSource final : public ByteSource {
 public:
  // REQUIRES: `in` outlives this source.
  StreamSource(std::istream& in, std::string name, size_t kept_bytes);

  // A stream that fails (badbit) fails the read with code kIo: "cannot read the input stream".
  // A blocking stream cannot be waited on in slices: `stop` is asked between reads only.
  Result<size_t> Read(char* dst, size_t n, const std::function<bool()>& stop) override;
  // The bytes left in a seekable stream (a string or file stream), else 0.
  uint64_t size_hint() const override { return size_hint_; }
  const std::string& name() const override { return name_; }

  // Bytes read so far, and the first and last min(bytes_read(), kept_bytes) of them.
  uint64_t bytes_read() const { return bytes_read_; }
  std::string_view head() const { return head_; }
  std::string_view tail() const;

 private:
  void Keep(std::string_view bytes);

  std::istream& in_;
  std::string name_;
  size_t kept_bytes_;
  uint64_t size_hint_ = 0;
  uint64_t bytes_read_ = 0;
  std::string head_;
  std::string tail_;  // ends with the last bytes read; trimmed to kept_bytes_ now and then
};

}  // namespace pixelmill
