// ManifestReader: reads an earlier run's OUT/manifest.jsonl line by line, with each line's byte
// offset, in fixed-size chunks so that memory stays bounded however large the file is (10M users
// make GBs). Parse() reads the current line as a ManifestRecord (manifest.h); a line that is
// not a JSON object with an integer "id" (torn by a crash, damaged) is not an entry. ForEach()
// is the one loop over a manifest's lines.
//
// Owns its file descriptor; move-only. Blocking reads; one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "coordinator/output/manifest.h"

namespace pixelmill {

struct ManifestLine {
  uint64_t offset = 0;     // of the line's first byte in the file
  uint64_t size = 0;       // bytes, without the newline
  bool terminated = true;  // ends with '\n' (only the file's last line may not)
  // The bytes, valid until the next Next(); empty for a line longer than the reader keeps.
  std::string_view text;
  bool too_long = false;
};

class ManifestReader {
 public:
  // Opens `path` (read-write when `writable`, for Truncate()), never through a symlink. Code
  // kMissing when there is no such file, kIo otherwise.
  static Result<ManifestReader> Open(const std::string& path, bool writable);

  ManifestReader(ManifestReader&& other) noexcept;
  ManifestReader& operator=(ManifestReader&&) = delete;
  ManifestReader(const ManifestReader&) = delete;
  ManifestReader& operator=(const ManifestReader&) = delete;
  ~ManifestReader();

  // Reads the next line into `line`; false at the end of the file.
  Result<bool> Next(ManifestLine& line);
  // Reads `line` (the one Next() returned last) as a record: false unless it is whole
  // (terminated, not too long) and one JSON object with an integer "id" and nothing after it.
  bool Parse(const ManifestLine& line, ManifestRecord& record);
  // Reads every line left: `each(line, record)` gets each, with its record when Parse() read
  // one (else null), and returns false to stop. Code kIo when the file cannot be read.
  Status ForEach(const std::function<bool(const ManifestLine&, const ManifestRecord*)>& each);
  // Cuts the file to `size` bytes and makes that durable. REQUIRES: opened writable.
  Status Truncate(uint64_t size);

  const std::string& path() const { return path_; }

 private:
  ManifestReader(std::string path, int fd);
  Status Refill();
  uint64_t OffsetOf(const char* p) const {
    return base_offset_ + static_cast<uint64_t>(p - buffer_.get());
  }

  std::string path_;
  int fd_ = -1;
  std::unique_ptr<char[]> buffer_;  // kBufferBytes + simdjson's padding
  const char* begin_ = nullptr;     // unread bytes are [begin_, end_)
  const char* end_ = nullptr;
  uint64_t base_offset_ = 0;  // file offset of buffer_[0]
  bool eof_ = false;
};

}  // namespace pixelmill
