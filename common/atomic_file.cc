#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/eintr.h"

namespace pixelmill {
namespace {

Status Errno(const std::string& what, const std::string& path, int error) {
  return Status::Error("io", what + " " + path + ": " + std::strerror(error));
}

// 16 hex digits from the kernel's random source: a temporary name nobody can guess in advance.
std::string RandomSuffix() {
  uint64_t bits = 0;
  for (size_t got = 0; got < sizeof bits;) {
    const ssize_t n = ::getrandom(reinterpret_cast<char*>(&bits) + got, sizeof bits - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
    // n < 0 is EINTR (getrandom has no other failure for a request this small): try again.
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (char& c : out) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return out;
}

// An open, freshly created temporary file and its name.
struct TempFile {
  int fd = -1;
  std::string path;
};

// Creates ".<name>.<random>.tmp" next to `path`. O_EXCL: never opens something already there.
Result<TempFile> CreateTemp(const std::string& folder, const std::string& name) {
  for (int tries = 0;; ++tries) {
    TempFile t;
    t.path = folder + "/." + name + "." + RandomSuffix() + ".tmp";
    t.fd = ::open(t.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
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

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n =
        RetryOnEintr([&] { return ::write(fd, bytes.data() + done, bytes.size() - done); });
    if (n < 0) return Errno("cannot write", path, errno);
    if (n == 0) return Status::Error("io", "cannot write " + path + ": no progress (disk full?)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes, bool sync) {
  const size_t slash = path.rfind('/');
  const std::string folder =
      slash == std::string::npos ? "." : path.substr(0, slash + (slash == 0));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Result<TempFile> temp = CreateTemp(folder, name);
  if (!temp.ok()) return temp.status();
  const std::string& temp_path = temp->path;
  Status s = WriteAll(temp->fd, bytes, temp_path);
  if (s.ok() && sync && ::fsync(temp->fd) != 0) s = Errno("cannot sync", temp_path, errno);
  if (::close(temp->fd) != 0 && s.ok()) s = Errno("cannot close", temp_path, errno);
  if (s.ok() && ::rename(temp_path.c_str(), path.c_str()) != 0) {
    s = Errno("cannot rename " + temp_path + " to", path, errno);
  }
  if (!s.ok()) {
    ::unlink(temp_path.c_str());
    return s;
  }
  return sync ? SyncFolder(folder) : Status::Ok();
}

}  // namespace pixelmill
