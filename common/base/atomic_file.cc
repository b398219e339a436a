#include "common/base/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "common/base/eintr.h"

namespace pixelmill {
namespace {

// Code kFull when the file system (or a quota, or a file-size limit) has no room: the caller
// may treat that apart from other I/O errors (kIo).
Status Errno(const std::string& what, const std::string& path, int error) {
  const bool full = error == ENOSPC || error == EDQUOT || error == EFBIG;
  return Status::Error(full ? Code::kFull : Code::kIo,
                       what + " " + path + ": " + std::strerror(error));
}

constexpr size_t kRandomDigits = 16;              // hex digits in a temporary name
constexpr size_t kWriteBuffer = size_t{1} << 20;  // AtomicFileWriter's buffer

// 16 hex digits from the kernel's random source: a temporary name nobody can guess in advance.
std::string RandomSuffix() {
  uint64_t bits = 0;
  for (size_t got = 0; got < sizeof bits;) {
    const ssize_t n = ::getrandom(reinterpret_cast<char*>(&bits) + got, sizeof bits - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
    // n < 0 is EINTR (getrandom has no other failure for a request this small): try again.
  }
  static constexpr char kHex[] = "0123456789abcdef";
  static_assert(kRandomDigits == 2 * sizeof bits);
  std::string out(kRandomDigits, '0');
  for (char& c : out) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return out;
}

// An open, freshly created temporary file: its name in its folder and its path for messages.
struct TempFile {
  int fd = -1;
  std::string name, path;
};

// Creates ".<name>.<random>.tmp" in the folder open as `dir_fd` (AT_FDCWD: `folder` itself;
// otherwise shown as `folder`). O_EXCL: never opens something already there.
Result<TempFile> CreateTemp(int dir_fd, const std::string& folder, const std::string& name) {
  for (int tries = 0;; ++tries) {
    TempFile t;
    t.name = "." + name + "." + RandomSuffix() + ".tmp";
    t.path = folder + "/" + t.name;
    const std::string& at = dir_fd == AT_FDCWD ? t.path : t.name;
    t.fd = ::openat(dir_fd, at.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (t.fd >= 0) return t;
    if (errno != EEXIST || tries == 100) return Errno("cannot create", t.path, errno);
  }
}

}  // namespace

Status SyncFolder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open folder", folder, errno);
  Status s = ::fsync(fd) == 0 ? Status::Ok() : Errno("cannot sync folder", folder, errno);
  ::close(fd);
  return s;
}

Status SyncFolderAt(int dir_fd, const std::string& folder) {
  return ::fsync(dir_fd) == 0 ? Status::Ok() : Errno("cannot sync folder", folder, errno);
}

Status WriteFileAtomicallyAt(int dir_fd, const std::string& folder, const std::string& name,
                             std::string_view bytes, bool sync) {
  Result<TempFile> temp = CreateTemp(dir_fd, folder, name);
  if (!temp.ok()) return temp.status();
  const std::string path = folder + "/" + name;
  Status s = WriteAll(temp->fd, bytes, temp->path);
  if (s.ok() && sync && ::fsync(temp->fd) != 0) s = Errno("cannot sync", temp->path, errno);
  if (::close(temp->fd) != 0 && s.ok()) s = Errno("cannot close", temp->path, errno);
  if (s.ok() && ::renameat(dir_fd, temp->name.c_str(), dir_fd, name.c_str()) != 0) {
    s = Errno("cannot rename " + temp->path + " to", path, errno);
  }
  if (!s.ok()) {
    ::unlinkat(dir_fd, temp->name.c_str(), 0);
    return s;
  }
  return sync ? SyncFolderAt(dir_fd, folder) : Status::Ok();
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n =
        RetryOnEintr([&] { return ::write(fd, bytes.data() + done, bytes.size() - done); });
    if (n < 0) return Errno("cannot write", path, errno);
    if (n == 0)
      return Status::Error(Code::kFull, "cannot write " + path + ": no progress (disk full?)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes, bool sync) {
  Result<AtomicFileWriter> writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer.status();
  if (Status s = writer->Append(bytes); !s.ok()) return s;
  return writer->Commit(sync);
}

bool IsAtomicTempName(std::string_view name) {
  constexpr std::string_view kEnd = ".tmp";
  constexpr size_t kSuffix = 1 + kRandomDigits + kEnd.size();  // ".<random>.tmp"
  // '.', at least one byte of the target's name, then the suffix.
  if (name.size() < 2 + kSuffix || name.front() != '.' || !name.ends_with(kEnd)) return false;
  const std::string_view random = name.substr(name.size() - kSuffix, 1 + kRandomDigits);
  if (random.front() != '.') return false;
  for (char c : random.substr(1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + (slash == 0));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Result<TempFile> temp = CreateTemp(AT_FDCWD, folder, name);
  if (!temp.ok()) return temp.status();
  return AtomicFileWriter(path, std::move(folder), std::move(temp->path), temp->fd);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      folder_(std::move(other.folder_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(temp_path_.c_str());
}

Status AtomicFileWriter::Append(std::string_view bytes) {
  assert(fd_ >= 0);
  if (buffer_.size() + bytes.size() > kWriteBuffer) {
    if (Status s = Flush(); !s.ok()) return s;
    // A piece larger than the buffer goes out directly rather than through a copy.
    if (bytes.size() >= kWriteBuffer) return WriteAll(fd_, bytes, temp_path_);
  }
  buffer_.append(bytes);
  return Status::Ok();
}

Status AtomicFileWriter::Flush() {
  Status s = WriteAll(fd_, buffer_, temp_path_);
  buffer_.clear();
  return s;
}

Status AtomicFileWriter::Commit(bool sync) {
  assert(fd_ >= 0);
  Status s = Flush();
  const int fd = std::exchange(fd_, -1);  // from here on, the destructor leaves the file alone
  if (s.ok() && sync && ::fsync(fd) != 0) s = Errno("cannot sync", temp_path_, errno);
  if (::close(fd) != 0 && s.ok()) s = Errno("cannot close", temp_path_, errno);
  if (s.ok() && ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    s = Errno("cannot rename " + temp_path_ + " to", path_, errno);
  }
  if (!s.ok()) {
    ::unlink(temp_path_.c_str());
    return s;
  }
  return sync ? SyncFolder(folder_) : Status::Ok();
}

}  // namespace pixelmill
