#include "coordinator/output/output_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <vector>

#include "common/base/atomic_file.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {
namespace {

// Files in images/ counted for the message before giving up counting (a folder may hold
// millions).
constexpr size_t kMaxCounted = 10000;

Status Errno(const std::string& what, const std::string& path, int error) {
  return Status::Error(Code::kIo, what + " " + path + ": " + std::strerror(error));
}

std::string HumanSize(off_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  static constexpr const char* kUnits[] = {"KB", "MB", "GB", "TB"};
  double size = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (size >= 1024 && unit + 1 < std::size(kUnits)) {
    size /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", size, kUnits[unit]);
  return text;
}

// The pid written into a lock file by its holder, as "pid N" or "pid unknown".
std::string LockHolder(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  char* end = nullptr;
  const long pid = n > 0 ? std::strtol(text, &end, 10) : 0;
  if (pid <= 0 || end == text || (*end != '\n' && *end != '\0')) return "pid unknown";
  return "pid " + std::to_string(pid);
}

// OUT/.lock, opened and flock()ed, with our pid written into it.
struct LockFile {
  int fd = -1;
  bool created = false;  // by this call: removed again if the run never begins
};

// True when `fd` is still the file at `path`: a run that never began unlinks its .lock, and a
// run that opened that file just before must not take the unlinked one for the lock.
bool StillAt(int fd, const std::string& path) {
  struct stat held, named;
  return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

// Opens and locks OUT/.lock and writes our pid into it.
Result<LockFile> LockFolder(const std::string& folder) {
  const std::string path = OutputLayout(folder).lock();
  for (int tries = 0;; ++tries) {
    LockFile lock;
    lock.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    lock.created = lock.fd >= 0;
    if (lock.fd < 0 && errno == EEXIST) {
      lock.fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (lock.fd < 0 && errno == ENOENT && tries < 100) continue;  // just removed
    }
    if (lock.fd < 0 && errno == ELOOP) {
      return Status::Error(Code::kIo, "refusing to use " + path + ": it is a symbolic link");
    }
    if (lock.fd < 0) return Errno("cannot open", path, errno);
    if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      const std::string holder = LockHolder(lock.fd);
      ::close(lock.fd);
      if (error != EWOULDBLOCK) return Errno("cannot lock", path, error);
      return Status::Error(Code::kBusy, "output folder " + folder +
                                            " is in use by another pixelmill run (" + holder +
                                            "); wait for it to finish or choose another --output");
    }
    if (!StillAt(lock.fd, path) && tries < 100) {
      ::close(lock.fd);
      continue;
    }
    Status written =
        ::ftruncate(lock.fd, 0) == 0 ? Status::Ok() : Errno("cannot write", path, errno);
    if (written.ok()) written = WriteAll(lock.fd, std::to_string(::getpid()) + "\n", path);
    if (!written.ok()) {
      ::close(lock.fd);
      if (lock.created) ::unlink(path.c_str());
      return written;
    }
    return lock;
  }
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// What VisitFiles does with each file it visits.
enum class Visit {
  kCount,       // count those that are not temporary files, up to kMaxCounted + 1
  kRemoveAll,   // delete every one
  kRemoveTemp,  // delete the temporary files (IsAtomicTempName), count them
};

// A fan-out subfolder's name (OutputLayout::ImagePath): two lowercase hex digits.
bool IsFanOutName(const char* name) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return hex(name[0]) && hex(name[1]) && name[2] == '\0';
}

// Visits the files (anything but folders, symlinks included) in the folder open as `fd` (shown
// as `folder`; the descriptor is taken), counting them in `files`, and those in its fan-out
// subfolders `levels` deep (never through a symlink); kRemoveAll removes the emptied
// subfolders too. Other folders are the user's, and are not looked into.
Status VisitIn(int fd, const std::string& folder, Visit visit, int levels, size_t& files) {
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
  if (!dir) {
    const int error = errno;
    ::close(fd);
    return Errno("cannot read", folder, error);
  }
  for (;;) {
    errno = 0;  // readdir's only way to tell the end from an error
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) break;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir && levels > 0 && IsFanOutName(entry->d_name)) {
      const std::string path = folder + "/" + entry->d_name;
      const int sub = ::openat(fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) return Errno("cannot open", path, errno);
      if (Status s = VisitIn(sub, path, visit, levels - 1, files); !s.ok()) return s;
      if (files > kMaxCounted && visit == Visit::kCount) return Status::Ok();
      if (visit == Visit::kRemoveAll && ::unlinkat(fd, entry->d_name, AT_REMOVEDIR) != 0 &&
          errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT) {
        return Errno("cannot delete", path, errno);
      }
      continue;
    }
    if (is_dir) continue;  // ".", "..", or a folder of the user's: not pixelmill's
    const bool temp = IsAtomicTempName(entry->d_name);
    if (visit == Visit::kCount && temp) continue;  // never a result
    if (visit == Visit::kRemoveTemp && !temp) continue;
    if (visit != Visit::kCount && ::unlinkat(fd, entry->d_name, 0) != 0 && errno != ENOENT) {
      return Errno("cannot delete", folder + "/" + entry->d_name, errno);
    }
    if (++files > kMaxCounted && visit == Visit::kCount) return Status::Ok();
  }
  if (errno != 0) return Errno("cannot read", folder, errno);
  return Status::Ok();
}

// Visits the files in `folder` as VisitIn does, and with `fanned` those in images/'s fan-out
// subfolders (two levels). Never follows a symlink at `folder` unless `follow` (OUT itself may
// be one the user made); an images/ that is one is an error. A missing folder holds no files.
Result<size_t> VisitFiles(const std::string& folder, bool follow, Visit visit,
                          bool fanned = false) {
  const int fd =
      ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0 && errno == ENOENT) return size_t{0};
  if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
    return Status::Error(Code::kIo, folder +
                                        " is not a folder (a symbolic link or a file); move it " +
                                        "away or choose another --output");
  }
  if (fd < 0) return Errno("cannot open", folder, errno);
  size_t files = 0;
  if (Status s = VisitIn(fd, folder, visit, fanned ? 2 : 0, files); !s.ok()) return s;
  return files;
}

// The outermost folder of `path` (itself included) that does not exist yet; "" if it exists.
std::filesystem::path FirstMissing(const std::filesystem::path& path) {
  std::filesystem::path missing;
  std::error_code ec;
  for (std::filesystem::path p = path.lexically_normal(); !p.empty() && !exists(p, ec) && !ec;
       p = p.parent_path()) {
    missing = p;
    if (p == p.parent_path()) break;
  }
  return missing;
}

std::string ImagesFolder(const std::string& folder) { return OutputLayout(folder).images(); }
const std::string kImagesShown = std::string(OutputLayout::kImages) + "/";  // in messages

// What of an earlier run OUT holds, e.g. {"manifest.jsonl of 4.1 MB", "118 files in images/"}.
Result<std::vector<std::string>> FindEarlierRun(const std::string& folder) {
  std::vector<std::string> found;
  for (std::string_view name : OutputLayout::kRunFiles) {
    const std::string path = OutputLayout(folder).Path(name);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return Errno("cannot inspect", path, errno);
    }
    found.push_back(std::string(name) +
                    (S_ISREG(st.st_mode) ? " of " + HumanSize(st.st_size) : " (not a file)"));
  }
  Result<size_t> images =
      VisitFiles(ImagesFolder(folder), /*follow=*/false, Visit::kCount, /*fanned=*/true);
  if (!images.ok()) return images.status();
  if (images.value() > kMaxCounted) {
    found.push_back("more than " + std::to_string(kMaxCounted) + " files in " + kImagesShown);
  } else if (images.value() > 0) {
    found.push_back(std::to_string(images.value()) + " file(s) in " + kImagesShown);
  }
  return found;
}

Status RemoveEarlierRun(const std::string& folder) {
  for (std::string_view name : OutputLayout::kRunFiles) {
    const std::string path = OutputLayout(folder).Path(name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete", path, errno);
  }
  Result<size_t> removed =
      VisitFiles(ImagesFolder(folder), /*follow=*/false, Visit::kRemoveAll, /*fanned=*/true);
  return removed.ok() ? Status::Ok() : removed.status();
}

// A killed run leaves the temporary files of the writes it was in the middle of.
Status RemoveTempFiles(const std::string& folder) {
  Result<size_t> removed = VisitFiles(folder, /*follow=*/true, Visit::kRemoveTemp);
  if (removed.ok())
    removed =
        VisitFiles(ImagesFolder(folder), /*follow=*/false, Visit::kRemoveTemp, /*fanned=*/true);
  return removed.ok() ? Status::Ok() : removed.status();
}

Status MakeImagesFolder(const std::string& folder) {
  const std::string images = ImagesFolder(folder);
  if (::mkdir(images.c_str(), 0755) == 0) return Status::Ok();
  if (errno != EEXIST) return Errno("cannot create", images, errno);
  struct stat st;
  if (::lstat(images.c_str(), &st) != 0) return Errno("cannot inspect", images, errno);
  if (!S_ISDIR(st.st_mode)) {
    return Status::Error(Code::kIo, images +
                                        " is not a folder (a symbolic link or a file); move it " +
                                        "away or choose another --output");
  }
  return Status::Ok();
}

// "manifest.jsonl, rejects.jsonl, run.json or .lock": the names a side file may not take.
std::string OwnFileNames() {
  std::string names;
  for (std::string_view name : OutputLayout::kRunFiles) names.append(name).append(", ");
  names.resize(names.size() - 2);
  return names.append(" or ").append(OutputLayout::kLock);
}

}  // namespace

Result<OutputDir> OutputDir::Claim(const std::string& path, OutputMode mode) {
  OutputDir dir(path, mode);  // from here on, returning early undoes what was made
  dir.made_from_ = FirstMissing(path);
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return Status::Error(Code::kIo, "cannot create output folder " + path + ": " + ec.message());
  Result<LockFile> lock = LockFolder(path);
  if (!lock.ok()) return lock.status();
  dir.lock_fd_ = lock->fd;
  dir.made_lock_ = lock->created;

  Result<std::vector<std::string>> found = FindEarlierRun(path);
  if (!found.ok()) return found.status();
  dir.earlier_ = !found->empty();
  if (dir.earlier_ && mode == OutputMode::kFresh) {
    std::string what;
    for (const std::string& item : found.value()) what += (what.empty() ? "" : ", ") + item;
    return Status::Error(Code::kExists,
                         "output folder " + path + " already holds a run (" + what +
                             "); pass --resume to continue it, --overwrite to delete " +
                             "it and start afresh, or choose another --output");
  }
  // Before anything of this run's is written (the rejects' temporary file is, while loading).
  if (Status s = RemoveTempFiles(path); !s.ok()) return s;
  return dir;
}

Status OutputDir::Begin() {
  assert(!begun_ && lock_fd_ >= 0);
  if (earlier_ && mode_ == OutputMode::kOverwrite) {
    if (Status s = RemoveEarlierRun(path_); !s.ok()) return s;
  }
  if (Status s = MakeImagesFolder(path_); !s.ok()) return s;
  begun_ = true;
  return Status::Ok();
}

Result<OutputDir> OutputDir::Prepare(const std::string& path, OutputMode mode) {
  Result<OutputDir> dir = Claim(path, mode);
  if (!dir.ok()) return dir;
  if (Status s = dir->Begin(); !s.ok()) return s;
  return dir;
}

Result<std::string> CheckSideFile(const std::string& flag, const std::string& path,
                                  const std::string& out_dir, bool regular_only) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path file = fs::weakly_canonical(path, ec);
  if (ec)
    return Status::Error(Code::kUsage, flag + ": cannot resolve " + path + ": " + ec.message());
  if (!out_dir.empty()) {
    const fs::path out = fs::weakly_canonical(out_dir, ec);
    if (ec)
      return Status::Error(Code::kUsage,
                           "--output: cannot resolve " + out_dir + ": " + ec.message());
    const fs::path images = out / OutputLayout::kImages;
    std::vector<fs::path> own = {out, out / OutputLayout::kLock, images};
    for (std::string_view name : OutputLayout::kRunFiles) own.push_back(out / name);
    struct stat target;
    const bool exists = ::stat(file.c_str(), &target) == 0;
    for (const fs::path& run_file : own) {
      struct stat st;
      const bool same_inode = exists && ::lstat(run_file.c_str(), &st) == 0 &&
                              st.st_dev == target.st_dev && st.st_ino == target.st_ino;
      const fs::path inside = file.lexically_relative(images);
      const bool in_images = !inside.empty() && *inside.begin() != "..";
      if (file == run_file || same_inode || in_images) {
        return Status::Error(Code::kUsage, flag + " " + path + " is one of the run's own files (" +
                                               run_file.string() +
                                               "); writing it would destroy the run: choose a path "
                                               "outside " +
                                               images.string() + " and not named " +
                                               OwnFileNames() + " in --output");
      }
    }
  }
  struct stat st;
  if (regular_only && ::stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Status::Error(Code::kUsage,
                         flag + " " + path +
                             " exists and is not a regular file (a device, a pipe or a "
                             "folder); give the path of a file to write");
  }
  // Its folder is made when the file is written; what exists of it now must let us.
  // A bare file name is in the current folder.
  fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  while (::stat(folder.c_str(), &st) != 0) {
    const fs::path up = folder.parent_path().empty() ? fs::path(".") : folder.parent_path();
    if (up == folder) break;
    folder = up;
  }
  if (!S_ISDIR(st.st_mode) || ::access(folder.c_str(), W_OK | X_OK) != 0) {
    return Status::Error(Code::kUsage,
                         flag + " " + path + ": cannot write in " + folder.string() +
                             (S_ISDIR(st.st_mode) ? " (no permission)" : " (not a folder)"));
  }
  return file.string();
}

OutputDir::OutputDir(OutputDir&& other) noexcept
    : path_(std::move(other.path_)),
      mode_(other.mode_),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      earlier_(other.earlier_),
      begun_(other.begun_),
      made_lock_(std::exchange(other.made_lock_, false)),
      made_from_(std::exchange(other.made_from_, {})) {}

OutputDir& OutputDir::operator=(OutputDir&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    mode_ = other.mode_;
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    earlier_ = other.earlier_;
    begun_ = other.begun_;
    made_from_ = std::exchange(other.made_from_, {});
    made_lock_ = std::exchange(other.made_lock_, false);
  }
  return *this;
}

OutputDir::~OutputDir() { Release(); }

void OutputDir::Release() {
  if (!begun_) {
    // Unlinked while still locked: a run waiting on this file sees it gone (StillAt) and
    // retries on a fresh one.
    if (made_lock_ && lock_fd_ >= 0) ::unlink(OutputLayout(path_).lock().c_str());
    // Only empty folders go: never anything of the user's.
    if (!made_from_.empty()) {
      for (std::filesystem::path p = std::filesystem::path(path_).lexically_normal();
           ::rmdir(p.c_str()) == 0 && p != made_from_;) {
        p = p.parent_path();
      }
    }
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  made_lock_ = false;
  made_from_.clear();
}

}  // namespace pixelmill
