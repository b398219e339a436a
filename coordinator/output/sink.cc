#include "coordinator/output/sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "common/base/atomic_file.h"
#include "coordinator/events/callback_guard.h"

namespace pixelmill {
namespace {

Status FsError(const std::string& what, const std::string& path, ssize_t code) {
  return Status::Error("write", what + " " + path + ": " + uv_strerror(static_cast<int>(code)));
}

// An image write error: code "full" (no room: the output's failure, not the user's; the
// pipeline stops the run) is kept, any other becomes "write".
Status ImageWriteError(const Status& s) {
  return s.code() == "full" ? s : Status::Error("write", s.message());
}

}  // namespace

// One file on its way to disk: `name` in OUT/images (the folder open as images_fd_).
struct Sink::FileWrite {
  std::string name, final_path;
  ImageBuffer bytes;
  Status result;  // set on the pool thread, read on the loop thread after it
  DoneFn done;
};

// A thread-pool job writing several files.
struct Sink::Batch {
  Sink* sink = nullptr;
  uv_work_t work{};
  std::vector<FileWrite> files;
  uv_timer_t delay{};  // commit_delay_ms_for_tests only
  int status = 0;      // the job's, kept while the delay runs
};

namespace {

// Portable path: a temporary name in the same folder, then rename over the final name. The
// folder itself is synced by the caller, once per batch.
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
    s = Status::Error(errno == ENOSPC || errno == EDQUOT ? "full" : "write",
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

}  // namespace

Sink::Sink(uv_loop_t& loop, SinkOptions options) : loop_(loop), options_(std::move(options)) {}

Sink::~Sink() {
  assert(manifest_ < 0 && files_pending_ == 0 && !timer_open_);
  if (images_fd_ >= 0) ::close(images_fd_);
}

Status Sink::Open() {
  std::error_code ec;
  std::filesystem::create_directories(ImagesFolder(), ec);
  if (ec)
    return Status::Error("io",
                         "cannot create output folder " + ImagesFolder() + ": " + ec.message());
  // Opened once: every image is written through this descriptor, never through the path.
  images_fd_ = ::open(ImagesFolder().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (images_fd_ < 0) {
    return Status::Error("io", "cannot open " + ImagesFolder() + ": " + std::strerror(errno) +
                                   (errno == ELOOP || errno == ENOTDIR
                                        ? " (it must be a folder, not a symbolic link)"
                                        : ""));
  }
  const std::string path = ManifestPath();
  uv_fs_t req;
  // Never truncated here: OutputDir::Prepare has removed an earlier run's manifest unless it is
  // to be continued. O_NOFOLLOW: a symlink planted at the name is refused, not written through.
  const int fd = uv_fs_open(nullptr, &req, path.c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644, nullptr);
  uv_fs_req_cleanup(&req);
  if (fd == UV_ELOOP) {
    return Status::Error("io", "refusing to open " + path +
                                   ": it is a symbolic link (pixelmill does not write through "
                                   "symbolic links); remove it or choose another --output");
  }
  if (fd < 0) return Status::Error("io", "cannot open " + path + ": " + uv_strerror(fd));
  const int rc = uv_fs_fstat(nullptr, &req, fd, nullptr);
  manifest_size_ = req.statbuf.st_size;
  uv_fs_req_cleanup(&req);
  if (rc < 0) {
    uv_fs_close(nullptr, &req, fd, nullptr);
    uv_fs_req_cleanup(&req);
    return Status::Error("io", "cannot inspect " + path + ": " + uv_strerror(rc));
  }
  manifest_ = fd;
  uv_timer_init(&loop_, &sync_timer_);
  sync_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&sync_timer_));
  timer_open_ = true;
  last_sync_ms_ = uv_now(&loop_);
  return Status::Ok();
}

void Sink::Commit(std::string relative_path, ImageBuffer bytes, std::string line, CommitFn done) {
  // The rule of the manifest: a line is appended only after its image is complete under its
  // final name (and, with durable, on disk).
  WriteFile(std::move(relative_path), std::move(bytes),
            [this, line = std::move(line), done = std::move(done)](const Status& written) mutable {
              if (!written.ok()) return done(CommitResult::kImageFailed, written);
              AppendManifest(std::move(line), [done = std::move(done)](const Status& appended) {
                done(appended.ok() ? CommitResult::kCommitted : CommitResult::kLineFailed,
                     appended);
              });
            });
}

void Sink::WriteFile(std::string relative_path, ImageBuffer bytes, DoneFn done) {
  assert(!closing_ && images_fd_ >= 0);
  constexpr std::string_view kImages = "images/";
  assert(relative_path.starts_with(kImages) &&
         relative_path.find('/', kImages.size()) == std::string::npos);
  FileWrite& w = waiting_files_.emplace_back();
  w.final_path = output_dir() + "/" + relative_path;
  w.name = relative_path.substr(kImages.size());
  w.bytes = std::move(bytes);
  w.done = std::move(done);
  ++files_pending_;
  StartBatches();
}

size_t Sink::files_waiting() const { return waiting_files_.size(); }

void Sink::StartBatches() {
  while (!waiting_files_.empty() && batches_.size() < kMaxJobs) {
    auto owned = std::make_unique<Batch>();
    Batch& batch = *owned;
    batches_[&batch] = std::move(owned);
    batch.sink = this;
    batch.work.data = &batch;
    while (!waiting_files_.empty() && batch.files.size() < kMaxFilesPerJob) {
      batch.files.push_back(std::move(waiting_files_.front()));
      waiting_files_.pop_front();
    }
    const int rc = uv_queue_work(
        &loop_, &batch.work,
        [](uv_work_t* work) {
          auto* b = static_cast<Batch*>(work->data);
          const Sink& sink = *b->sink;
          const bool durable = sink.options_.durable;
          const std::string folder = sink.ImagesFolder();
          bool named = false;
          for (FileWrite& w : b->files) {
            w.result = WriteFileNow(sink.images_fd_, folder, w.name, w.bytes.view(), durable);
            named |= w.result.ok();
          }
          // The new names themselves, once, before any of the lines is appended.
          if (durable && named) {
            Status synced = SyncFolderAt(sink.images_fd_, folder);
            for (FileWrite& w : b->files) {
              if (w.result.ok() && !synced.ok()) w.result = ImageWriteError(synced);
            }
          }
        },
        [](uv_work_t* work, int status) {
          auto* b = static_cast<Batch*>(work->data);
          Guarded(work->loop, "file write", [&] {
            if (b->sink->options_.commit_delay_ms_for_tests > 0) {
              b->sink->FinishBatchLate(*b, status);
            } else {
              b->sink->FinishBatch(*b, status);
            }
          });
        });
    if (rc < 0) FinishBatch(batch, rc);
  }
}

// Test-only (SinkOptions::commit_delay_ms_for_tests): the batch stays in batches_ -- its job
// slot busy, so later files wait in waiting_files_ as behind a slow disk -- until the timer
// fires; the timer handle is closed before FinishBatch frees the batch.
void Sink::FinishBatchLate(Batch& batch, int status) {
  batch.status = status;
  uv_timer_init(&loop_, &batch.delay);
  batch.delay.data = &batch;
  uv_timer_start(
      &batch.delay,
      [](uv_timer_t* t) {
        uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
          auto* b = static_cast<Batch*>(h->data);
          Guarded(h->loop, "file write", [&] { b->sink->FinishBatch(*b, b->status); });
        });
      },
      options_.commit_delay_ms_for_tests, 0);
}

void Sink::FinishBatch(Batch& batch, int status) {
  std::unique_ptr<Batch> owned = std::move(batches_[&batch]);
  batches_.erase(&batch);
  for (FileWrite& w : owned->files) {
    if (status < 0 && w.result.ok()) w.result = FsError("cannot write", w.final_path, status);
    // Not Remember()ed: a failed image is its user's failure, told to `done`; the sink's own
    // error (what Close reports) is the manifest's.
    --files_pending_;
    w.done(w.result);
  }
  StartBatches();
  MaybeFinishClose();
}

void Sink::AppendManifest(std::string line, DoneFn done) {
  assert(manifest_ >= 0);
  line.push_back('\n');
  queued_.push_back(Line{std::move(line), std::move(done)});
  if (writing_.empty() && !delivering_) WriteQueuedLines();
}

void Sink::WriteQueuedLines() {
  assert(writing_.empty() && !queued_.empty());
  batch_.clear();
  batch_written_ = 0;
  while (!queued_.empty()) {
    batch_ += queued_.front().text;
    writing_.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  if (!manifest_error_.ok()) {
    // After a failed append nothing more is written. The lines get that error from the loop,
    // through a no-op pool job, rather than on their caller's stack.
    refuse_req_.data = this;
    const int rc = uv_queue_work(
        &loop_, &refuse_req_, [](uv_work_t*) {},
        [](uv_work_t* work, int) {
          Sink& sink = *static_cast<Sink*>(work->data);
          Guarded(work->loop, "manifest", [&] { sink.DeliverLines(0, sink.manifest_error_); });
        });
    if (rc < 0) DeliverLines(0, manifest_error_);
    return;
  }
  WriteRestOfBatch();
}

void Sink::WriteRestOfBatch() {
  uv_buf_t buf = uv_buf_init(batch_.data() + batch_written_,
                             static_cast<unsigned>(batch_.size() - batch_written_));
  manifest_req_.data = this;
  const int rc = uv_fs_write(&loop_, &manifest_req_, manifest_, &buf, 1, -1, [](uv_fs_t* req) {
    const ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    Guarded(req->loop, "manifest write",
            [&] { static_cast<Sink*>(req->data)->OnLinesWritten(result); });
  });
  if (rc < 0) OnLinesWritten(rc);
}

void Sink::OnLinesWritten(ssize_t result) {
  if (result > 0) {
    batch_written_ += static_cast<size_t>(result);
    if (batch_written_ < batch_.size()) return WriteRestOfBatch();  // a short write: the rest
    manifest_size_ += batch_.size();
    lines_written_ += writing_.size();
    MaybeSync(false);
    return DeliverLines(writing_.size(), Status::Ok());
  }
  // The lines of this batch that reached the file whole stay; the rest are cut off and fail.
  size_t kept = 0, kept_bytes = 0;
  while (kept < writing_.size() && kept_bytes + writing_[kept].text.size() <= batch_written_) {
    kept_bytes += writing_[kept].text.size();
    ++kept;
  }
  manifest_size_ += kept_bytes;
  lines_written_ += kept;
  StopManifest(result < 0 ? uv_strerror(static_cast<int>(result))
                          : "no progress (file system full?)");
  DeliverLines(kept, manifest_error_);
}

void Sink::StopManifest(const std::string& reason) {
  const std::string path = ManifestPath();
  std::string message = "cannot append to " + path + ": " + reason;
  // Cut off whatever part of the failed batch reached the file, so the manifest ends with its
  // last complete line. Blocking, but it happens once.
  uv_fs_t req;
  const int rc =
      uv_fs_ftruncate(nullptr, &req, manifest_, static_cast<int64_t>(manifest_size_), nullptr);
  uv_fs_req_cleanup(&req);
  if (rc < 0) {
    message += "; nor cut it back to its last complete line (" + std::string(uv_strerror(rc)) +
               "), so its last line may be incomplete";
  }
  manifest_error_ = Status::Error("write", message);
}

void Sink::DeliverLines(size_t written, const Status& status) {
  Remember(status);
  std::vector<Line> finished = std::move(writing_);
  writing_.clear();
  // A done callback may append lines: they wait in queued_ until every callback has run, so
  // only one write is ever in flight.
  delivering_ = true;
  for (size_t i = 0; i < finished.size(); ++i)
    finished[i].done(i < written ? Status::Ok() : status);
  delivering_ = false;
  if (!queued_.empty()) {
    WriteQueuedLines();
  } else {
    MaybeFinishClose();
  }
}

void Sink::Close(DoneFn done) {
  closing_ = true;
  on_closed_ = std::move(done);
  MaybeFinishClose();
}

// Lines reach the disk in batches: a sync starts once sync_lines lines or sync_interval_ms have
// passed since the last one (`now` forces it); the timer catches the tail of a burst.
void Sink::MaybeSync(bool now) {
  if (syncing_ || manifest_ < 0 || synced_lines_ == lines_written_ || !manifest_error_.ok()) {
    return;
  }
  const uint64_t since = uv_now(&loop_) - last_sync_ms_;
  if (!now && lines_written_ - synced_lines_ < options_.sync_lines &&
      since < options_.sync_interval_ms) {
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&sync_timer_))) {
      uv_timer_start(
          &sync_timer_,
          [](uv_timer_t* t) {
            Guarded(t->loop, "manifest sync",
                    [&] { static_cast<Sink*>(t->data)->MaybeSync(true); });
          },
          options_.sync_interval_ms - since, 0);
    }
    return;
  }
  uv_timer_stop(&sync_timer_);
  syncing_ = true;
  last_sync_ms_ = uv_now(&loop_);
  sync_req_.data = this;
  const uint64_t covering = lines_written_;
  const int rc = uv_fs_fdatasync(&loop_, &sync_req_, manifest_, [](uv_fs_t* req) {
    const ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    Guarded(req->loop, "manifest sync", [&] { static_cast<Sink*>(req->data)->OnSynced(result); });
  });
  if (rc < 0) return OnSynced(rc);
  synced_lines_ = covering;
}

void Sink::OnSynced(ssize_t result) {
  syncing_ = false;
  ++syncs_;
  if (result < 0) Remember(FsError("cannot sync", ManifestPath(), result));
  if (closing_) return MaybeFinishClose();
  MaybeSync(false);
}

void Sink::MaybeFinishClose() {
  if (!closing_ || !on_closed_ || pending() > 0) return;
  if (timer_open_) {
    timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&sync_timer_), nullptr);
  }
  if (manifest_ >= 0) {
    uv_fs_t req;
    // Blocking, once, at the very end: the manifest is durable before the exit code says so.
    if (int rc = uv_fs_fsync(nullptr, &req, manifest_, nullptr); rc < 0) {
      Remember(FsError("cannot sync", ManifestPath(), rc));
    }
    uv_fs_req_cleanup(&req);
    if (int rc = uv_fs_close(nullptr, &req, manifest_, nullptr); rc < 0) {
      Remember(FsError("cannot close", ManifestPath(), rc));
    }
    uv_fs_req_cleanup(&req);
    manifest_ = -1;
  }
  DoneFn done = std::move(on_closed_);
  on_closed_ = nullptr;
  done(first_error_);
}

void Sink::Remember(const Status& s) {
  if (!s.ok() && first_error_.ok()) first_error_ = s;
}

}  // namespace pixelmill
