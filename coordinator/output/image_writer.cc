#include "coordinator/output/image_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string_view>
#include <utility>

#include "common/base/atomic_file.h"
#include "common/image/image_probe.h"
#include "coordinator/events/callback_guard.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {

// One file on its way to disk: `name` relative to OUT/images (the folder open as images_fd_),
// e.g. "7.jpg" or "ab/cd/7.jpg".
struct ImageWriter::FileWrite {
  std::string name, final_path;
  ImageBuffer bytes;
  Status result;  // set on the pool thread, read on the loop thread after it
  DoneFn done;
  std::string link_from;  // a Link(): the name in OUT/images of the image `name` becomes
  Linked linked;          // set on the pool thread with `result`
  LinkedFn linked_done;
};

// A thread-pool job writing several files.
struct ImageWriter::Job {
  ImageWriter* writer = nullptr;
  uv_work_t work{};
  std::vector<FileWrite> files;
  uv_timer_t delay{};  // commit_delay_ms_for_tests only
  int status = 0;      // the job's, kept while the delay runs
};

namespace {

// An image write error: code kFull (no room: the output's failure, not the user's; the
// pipeline stops the run) is kept, any other becomes kWrite.
Status ImageWriteError(const Status& s) {
  return s.code() == Code::kFull ? s : Status::Error(Code::kWrite, s.message());
}

// Portable path: a temporary name in the same folder, then rename over the final name. The
// folder itself is synced by the caller, once per job.
Status WriteByRename(int dir_fd, const std::string& folder, const std::string& name,
                     std::string_view bytes, bool durable) {
  Status s = WriteFileAtomicallyAt(dir_fd, folder, name, bytes, durable);
  return s.ok() ? s : ImageWriteError(s);
}

// Runs on a pool thread: the file `name` appears in the folder open as `dir_fd` (shown as
// `folder`) complete, or not at all; with `durable` its bytes are on disk before it is named.
// Only through the descriptor: a symlink swapped in for the folder's path is never followed.
Status WriteFileNow(int dir_fd, const std::string& folder, const std::string& name,
                    std::string_view bytes, bool durable) {
  const std::string final_path = folder + "/" + name;
  const int fd = ::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return WriteByRename(dir_fd, folder, name, bytes, durable);  // no O_TMPFILE here
  Status s = WriteAll(fd, bytes, final_path);
  if (s.ok() && durable && ::fsync(fd) != 0) {
    s = Status::Error(errno == ENOSPC || errno == EDQUOT ? Code::kFull : Code::kWrite,
                      "cannot sync " + final_path + ": " + std::strerror(errno));
  }
  if (s.ok()) {
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    // linkat never follows a symlink at the final name: it fails with EEXIST instead.
    if (::linkat(AT_FDCWD, proc.c_str(), dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      // EEXIST (a file from an earlier run, a planted symlink) or no /proc: replace atomically
      // by rename instead.
      s = WriteByRename(dir_fd, folder, name, bytes, durable);
    }
  } else {
    s = ImageWriteError(s);
  }
  ::close(fd);
  return s;
}

// "." + name + ".<16 hex digits>.tmp": a temporary name (IsAtomicTempName) for a link.
std::string TempLinkName(const std::string& name) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(random()));
  return "." + name + "." + digits + ".tmp";
}

Result<std::string> ReadImage(int dir_fd, const std::string& folder, const std::string& name) {
  const std::string path = folder + "/" + name;
  const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return Status::Error(Code::kWrite, "cannot open " + path + ": " + std::strerror(errno));
  std::string bytes;
  char chunk[1 << 16];
  ssize_t n = 0;
  while ((n = ::read(fd, chunk, sizeof chunk)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    bytes.append(chunk, static_cast<size_t>(n));
  }
  const int error = errno;
  ::close(fd);
  if (n < 0)
    return Status::Error(Code::kWrite, "cannot read " + path + ": " + std::strerror(error));
  return bytes;
}

// A file's folder in OUT/images, open for one write: images/ itself for "7.jpg", or the
// fan-out subfolder "ab/cd" of "ab/cd/7.jpg", opened a level at a time from images/'s
// descriptor (O_NOFOLLOW: a symlink planted for a subfolder is refused, never followed).
struct Place {
  int fd = -1;
  bool owned = false;  // fd is a subfolder's, closed here
  std::string folder;  // shown in messages
  std::string name;    // the file's name in it

  Place() = default;
  Place(const Place&) = delete;
  Place& operator=(const Place&) = delete;
  ~Place() {
    if (owned) ::close(fd);
  }
};

Status PlaceError(const char* what, const std::string& path, int error) {
  return Status::Error(error == ENOSPC || error == EDQUOT ? Code::kFull : Code::kWrite,
                       std::string(what) + " " + path + ": " + std::strerror(error));
}

// Opens the folder of `name` (relative to images/, open as `images_fd`), making its subfolders
// when `create`; with `durable`, a folder made is synced into its parent.
Status OpenPlace(int images_fd, const std::string& images, const std::string& name, bool create,
                 bool durable, Place& place) {
  place.fd = images_fd;
  place.folder = images;
  size_t start = 0;
  for (size_t slash; (slash = name.find('/', start)) != std::string::npos; start = slash + 1) {
    const std::string part = name.substr(start, slash - start);
    const std::string path = place.folder + "/" + part;
    const bool made = create && ::mkdirat(place.fd, part.c_str(), 0755) == 0;
    if (create && !made && errno != EEXIST) return PlaceError("cannot create", path, errno);
    const int fd =
        ::openat(place.fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
      return Status::Error(Code::kWrite, "cannot open " + path +
                                             ": not a folder (a symbolic link or a file there is "
                                             "never followed)");
    }
    if (fd < 0) return PlaceError("cannot open", path, errno);
    Status synced = made && durable ? SyncFolderAt(place.fd, place.folder) : Status::Ok();
    if (place.owned) ::close(place.fd);
    place.fd = fd;
    place.owned = true;
    place.folder = path;
    if (!synced.ok()) return ImageWriteError(synced);
  }
  place.name = name.substr(start);
  return Status::Ok();
}

// Runs on a pool thread: `to` becomes the image `from` is, by a hard link renamed into place, or
// a copy where links fail.
Status LinkFileNow(const Place& from, const Place& to, bool durable, ImageWriter::Linked& linked) {
  const int dir_fd = to.fd;
  const std::string& folder = to.folder;
  const std::string& name = to.name;
  Result<std::string> bytes = ReadImage(from.fd, from.folder, from.name);
  if (!bytes.ok()) return bytes.status();
  Result<ImageHeader> header = ProbeImage(bytes.value());
  if (!header.ok()) {
    return Status::Error(Code::kWrite, from.folder + "/" + from.name +
                                           " is no longer an image: " + header.status().message());
  }
  linked = {bytes.value().size(), header.value().width, header.value().height};
  std::string temp = TempLinkName(name);
  int rc = ::linkat(from.fd, from.name.c_str(), dir_fd, temp.c_str(), 0);
  if (rc != 0 && errno == EEXIST) {
    temp = TempLinkName(name);
    rc = ::linkat(from.fd, from.name.c_str(), dir_fd, temp.c_str(), 0);
  }
  if (rc != 0) {
    const int error = errno;
    if (error == EXDEV || error == EMLINK || error == EPERM) {
      return WriteByRename(dir_fd, folder, name, bytes.value(), durable);
    }
    return Status::Error(error == ENOSPC || error == EDQUOT ? Code::kFull : Code::kWrite,
                         "cannot link " + folder + "/" + name + ": " + std::strerror(error));
  }
  if (::renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0) {
    const int error = errno;
    ::unlinkat(dir_fd, temp.c_str(), 0);
    return Status::Error(error == ENOSPC || error == EDQUOT ? Code::kFull : Code::kWrite,
                         "cannot name " + folder + "/" + name + ": " + std::strerror(error));
  }
  return Status::Ok();
}

// Runs on a pool thread: one Write() (`link_from` empty) or Link() of `name`, both relative to
// images/. A fan-out subfolder's new entry is synced here (durable); images/ itself once per
// job, by the caller.
Status WriteOneNow(int images_fd, const std::string& images, const std::string& name,
                   const std::string& link_from, std::string_view bytes, bool durable,
                   ImageWriter::Linked& linked) {
  Place to;
  Status s = OpenPlace(images_fd, images, name, /*create=*/true, durable, to);
  if (!s.ok()) return s;
  if (link_from.empty()) {
    s = WriteFileNow(to.fd, to.folder, to.name, bytes, durable);
  } else {
    Place from;
    s = OpenPlace(images_fd, images, link_from, /*create=*/false, durable, from);
    if (s.ok()) s = LinkFileNow(from, to, durable, linked);
  }
  if (s.ok() && durable && to.owned) {
    if (Status synced = SyncFolderAt(to.fd, to.folder); !synced.ok()) s = ImageWriteError(synced);
  }
  return s;
}

}  // namespace

ImageWriter::ImageWriter(uv_loop_t& loop, std::string out_dir, bool durable,
                         uint64_t commit_delay_ms_for_tests)
    : loop_(loop),
      out_dir_(std::move(out_dir)),
      images_(OutputLayout(out_dir_).images()),
      durable_(durable),
      commit_delay_ms_for_tests_(commit_delay_ms_for_tests) {}

ImageWriter::~ImageWriter() {
  assert(pending_ == 0);
  if (images_fd_ >= 0) ::close(images_fd_);
}

Status ImageWriter::Open() {
  std::error_code ec;
  std::filesystem::create_directories(images_, ec);
  if (ec)
    return Status::Error(Code::kIo, "cannot create output folder " + images_ + ": " + ec.message());
  // Opened once: every image is written through this descriptor, never through the path.
  images_fd_ = ::open(images_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (images_fd_ < 0) {
    return Status::Error(Code::kIo, "cannot open " + images_ + ": " + std::strerror(errno) +
                                        (errno == ELOOP || errno == ENOTDIR
                                             ? " (it must be a folder, not a symbolic link)"
                                             : ""));
  }
  return Status::Ok();
}

void ImageWriter::Write(std::string relative_path, ImageBuffer bytes, DoneFn done) {
  assert(!on_idle_ && images_fd_ >= 0);
  const std::string prefix = std::string(OutputLayout::kImages) + "/";
  assert(relative_path.starts_with(prefix));
  FileWrite& w = waiting_.emplace_back();
  w.final_path = OutputLayout(out_dir_).Path(relative_path);
  w.name = relative_path.substr(prefix.size());
  w.bytes = std::move(bytes);
  w.done = std::move(done);
  ++pending_;
  StartJobs();
}

void ImageWriter::Link(std::string from, std::string to, LinkedFn done) {
  assert(!on_idle_ && images_fd_ >= 0);
  const std::string prefix = std::string(OutputLayout::kImages) + "/";
  assert(from.starts_with(prefix) && to.starts_with(prefix));
  FileWrite& w = waiting_.emplace_back();
  w.final_path = OutputLayout(out_dir_).Path(to);
  w.name = to.substr(prefix.size());
  w.link_from = from.substr(prefix.size());
  w.linked_done = std::move(done);
  ++pending_;
  StartJobs();
}

size_t ImageWriter::waiting() const { return waiting_.size(); }

void ImageWriter::StartJobs() {
  while (!waiting_.empty() && jobs_.size() < kMaxJobs) {
    auto owned = std::make_unique<Job>();
    Job& job = *owned;
    jobs_[&job] = std::move(owned);
    job.writer = this;
    job.work.data = &job;
    while (!waiting_.empty() && job.files.size() < kMaxFilesPerJob) {
      job.files.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    const int rc = uv_queue_work(
        &loop_, &job.work,
        [](uv_work_t* work) {
          auto* j = static_cast<Job*>(work->data);
          const ImageWriter& writer = *j->writer;
          const bool durable = writer.durable_;
          bool named = false;
          for (FileWrite& w : j->files) {
            w.result = WriteOneNow(writer.images_fd_, writer.images_, w.name, w.link_from,
                                   w.bytes.view(), durable, w.linked);
            named |= w.result.ok();
          }
          // The new names themselves, once, before any of the images is reported written.
          if (durable && named) {
            Status synced = SyncFolderAt(writer.images_fd_, writer.images_);
            for (FileWrite& w : j->files) {
              if (w.result.ok() && !synced.ok()) w.result = ImageWriteError(synced);
            }
          }
        },
        [](uv_work_t* work, int status) {
          auto* j = static_cast<Job*>(work->data);
          Guarded(work->loop, "file write", [&] {
            if (j->writer->commit_delay_ms_for_tests_ > 0) {
              j->writer->FinishJobLate(*j, status);
            } else {
              j->writer->FinishJob(*j, status);
            }
          });
        });
    if (rc < 0) FinishJob(job, rc);
  }
}

// Test-only (SinkOptions::commit_delay_ms_for_tests): the job stays in jobs_ -- its slot busy,
// so later files wait in waiting_ as behind a slow disk -- until the timer fires; the timer
// handle is closed before FinishJob frees the job.
void ImageWriter::FinishJobLate(Job& job, int status) {
  job.status = status;
  uv_timer_init(&loop_, &job.delay);
  job.delay.data = &job;
  uv_timer_start(
      &job.delay,
      [](uv_timer_t* t) {
        uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
          auto* j = static_cast<Job*>(h->data);
          Guarded(h->loop, "file write", [&] { j->writer->FinishJob(*j, j->status); });
        });
      },
      commit_delay_ms_for_tests_, 0);
}

void ImageWriter::FinishJob(Job& job, int status) {
  std::unique_ptr<Job> owned = std::move(jobs_[&job]);
  jobs_.erase(&job);
  for (FileWrite& w : owned->files) {
    if (status < 0 && w.result.ok()) {
      w.result =
          Status::Error(Code::kWrite, "cannot write " + w.final_path + ": " + uv_strerror(status));
    }
    --pending_;
    if (w.linked_done) {
      w.linked_done(w.result, w.linked);
    } else {
      w.done(w.result);
    }
  }
  StartJobs();
  MaybeIdle();
}

void ImageWriter::WhenIdle(std::function<void()> idle) {
  on_idle_ = std::move(idle);
  MaybeIdle();
}

void ImageWriter::MaybeIdle() {
  if (!on_idle_ || pending_ > 0) return;
  std::function<void()> idle = std::move(on_idle_);
  on_idle_ = nullptr;
  idle();
}

}  // namespace pixelmill
