#include "coordinator/output/manifest_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <simdjson.h>

namespace pixelmill {
namespace {

constexpr size_t kBufferBytes = size_t{4} << 20;
// A line longer than this without its newline is not kept whole (no line pixelmill writes is).
constexpr size_t kMaxLineBytes = size_t{1} << 20;

Status Errno(const std::string& what, const std::string& path, int error) {
  return Status::Error(Code::kIo, what + " " + path + ": " + std::strerror(error));
}

}  // namespace

Result<ManifestReader> ManifestReader::Open(const std::string& path, bool writable) {
  const int flags = (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC;
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0 && errno == ENOENT) return Status::Error(Code::kMissing, path + " does not exist");
  if (fd < 0 && errno == ELOOP) {
    return Status::Error(Code::kIo, "refusing to read " + path + ": it is a symbolic link");
  }
  if (fd < 0) return Errno("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(Code::kIo, path + " is not a regular file");
  }
  return ManifestReader(path, fd);
}

ManifestReader::ManifestReader(std::string path, int fd)
    : path_(std::move(path)),
      fd_(fd),
      buffer_(new char[kBufferBytes + simdjson::SIMDJSON_PADDING]),
      begin_(buffer_.get()),
      end_(buffer_.get()) {}

ManifestReader::ManifestReader(ManifestReader&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      begin_(other.begin_),
      end_(other.end_),
      base_offset_(other.base_offset_),
      eof_(other.eof_) {}

ManifestReader::~ManifestReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> ManifestReader::Next(ManifestLine& line) {
  const uint64_t start = OffsetOf(begin_);
  bool too_long = false;
  for (;;) {
    const auto* newline =
        static_cast<const char*>(std::memchr(begin_, '\n', static_cast<size_t>(end_ - begin_)));
    if (newline != nullptr || eof_) {
      if (newline == nullptr && begin_ == end_ && !too_long) return false;
      const char* stop = newline != nullptr ? newline : end_;
      line.offset = start;
      line.size = OffsetOf(stop) - start;
      line.terminated = newline != nullptr;
      line.too_long = too_long || line.size > kMaxLineBytes;
      line.text = line.too_long ? std::string_view() : std::string_view(begin_, stop - begin_);
      begin_ = newline != nullptr ? newline + 1 : end_;
      return true;
    }
    if (static_cast<size_t>(end_ - begin_) >= kMaxLineBytes) {
      too_long = true;  // drop what is read of it; the rest is skipped up to its newline
      begin_ = end_;
    }
    if (Status s = Refill(); !s.ok()) return s;
  }
}

Status ManifestReader::Refill() {
  char* data = buffer_.get();
  const size_t kept = static_cast<size_t>(end_ - begin_);
  base_offset_ = OffsetOf(begin_);
  std::memmove(data, begin_, kept);
  begin_ = data;
  end_ = data + kept;
  for (;;) {
    const ssize_t n = ::read(fd_, data + kept, kBufferBytes - kept);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path_, errno);
    if (n == 0) eof_ = true;
    end_ += n;
    return Status::Ok();
  }
}

bool ManifestReader::Parse(const ManifestLine& line, ManifestRecord& record) {
  if (line.too_long || !line.terminated || line.text.empty()) {
    record = ManifestRecord();
    return false;
  }
  // The text lies in buffer_, which has simdjson's padding past its last byte.
  const size_t room = static_cast<size_t>(buffer_.get() + kBufferBytes +
                                          simdjson::SIMDJSON_PADDING - line.text.data());
  return ReadRecord(line.text, room, record);
}

Status ManifestReader::ForEach(
    const std::function<bool(const ManifestLine&, const ManifestRecord*)>& each) {
  ManifestLine line;
  ManifestRecord record;
  for (;;) {
    Result<bool> more = Next(line);
    if (!more.ok()) return more.status();
    if (!more.value()) return Status::Ok();
    if (!each(line, Parse(line, record) ? &record : nullptr)) return Status::Ok();
  }
}

Status ManifestReader::Truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Errno("cannot cut", path_, errno);
  if (::fsync(fd_) != 0) return Errno("cannot sync", path_, errno);
  return Status::Ok();
}

}  // namespace pixelmill
