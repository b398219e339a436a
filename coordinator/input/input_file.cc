#include "coordinator/input/input_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/base/eintr.h"

namespace pixelmill {

Result<InputFile> InputFile::Open(const std::string& path) {
  if (path.empty()) return Status::Error(Code::kUsage, "input path is empty");
  const bool is_stdin = path == "-";
  const std::string name = is_stdin ? "<stdin>" : path;
  int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(Code::kIo, "cannot open input " + name + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    if (!is_stdin) ::close(fd);
    return Status::Error(Code::kIo, "cannot stat input " + name + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    if (!is_stdin) ::close(fd);
    return Status::Error(Code::kIo,
                         "input " + name + " is a directory; pass a .json or .jsonl file");
  }
  const bool regular = S_ISREG(st.st_mode);
  const uint64_t size = regular ? static_cast<uint64_t>(st.st_size) : 0;
  return InputFile(fd, !is_stdin, regular, size, name);
}

InputFile::InputFile(InputFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      owned_(std::exchange(other.owned_, false)),
      regular_(other.regular_),
      size_hint_(other.size_hint_),
      name_(std::move(other.name_)) {}

InputFile::~InputFile() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

Result<size_t> InputFile::Read(char* dst, size_t n, const std::function<bool()>& stop) {
  size_t done = 0;
  while (done < n) {
    if (stop && stop()) {
      return Status::Error(Code::kInterrupted, "reading " + name_ + " was interrupted");
    }
    if (stop && !regular_) {
      // Wait for input in slices: a writer that sends nothing must not hold off a stop request.
      // poll() is never restarted after a signal handler, so a signal ends the wait at once.
      pollfd ready{fd_, POLLIN, 0};
      const int got = ::poll(&ready, 1, kStopCheckMs);
      if (got == 0 || (got < 0 && errno == EINTR)) continue;
      if (got < 0) {
        return Status::Error(Code::kIo, "cannot read input " + name_ + ": " + std::strerror(errno));
      }
    }
    const ssize_t got = RetryOnEintr([&] { return ::read(fd_, dst + done, n - done); });
    if (got == 0) break;
    if (got < 0) {
      return Status::Error(Code::kIo, "cannot read input " + name_ + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(got);
  }
  return done;
}

}  // namespace pixelmill
