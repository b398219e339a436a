// ManifestReader: reads an earlier run's OUT/manifest.jsonl line by line, with each line's byte
// offset, in fixed-size chunks so that memory stays bounded however large the file is (10M users
// make GBs). Parse() reads the fields --resume needs from the current line; a line that is not a
// JSON object with an integer "id" (torn by a crash, damaged) is not an entry.
//
// Owns its file descriptor; move-only. Blocking reads; one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "common/base/status.h"

namespace pixelmill {

struct ManifestLine {
  uint64_t offset = 0;     // of the line's first byte in the file
  uint64_t size = 0;       // bytes, without the newline
  bool terminated = true;  // ends with '\n' (only the file's last line may not)
  // The bytes, valid until the next Next(); empty for a line longer than the reader keeps.
  std::string_view text;
  bool too_long = false;
};

// What --resume reads from a line. Views are valid until the next Parse().
struct ManifestEntry {
  int64_t id = 0;
  std::string_view status;  // "ok", "failed"; empty when absent or not a string
  std::string_view output;  // "images/7.jpg"; empty when absent
  uint64_t bytes = 0;
  bool has_bytes = false;
};

class ManifestReader {
 public:
  // Opens `path` (read-write when `writable`, for Truncate()), never through a symlink. Code
  // "missing" when there is no such file, "io" otherwise.
  static Result<ManifestReader> Open(const std::string& path, bool writable);

  ManifestReader(ManifestReader&& other) noexcept;
  ManifestReader& operator=(ManifestReader&&) = delete;
  ManifestReader(const ManifestReader&) = delete;
  ManifestReader& operator=(const ManifestReader&) = delete;
  ~ManifestReader();

  // Reads the next line into `line`; false at the end of the file.
  Result<bool> Next(ManifestLine& line);
  // Reads `line` (the one Next() returned last) as an entry: false unless it is one JSON object
  // with an integer "id" and nothing after it.
  bool Parse(const ManifestLine& line, ManifestEntry& entry);
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
  simdjson::ondemand::parser parser_;
};

}  // namespace pixelmill
