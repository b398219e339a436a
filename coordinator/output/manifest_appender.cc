#include "coordinator/output/manifest_appender.h"

#include <fcntl.h>

#include <cassert>
#include <utility>

#include "coordinator/events/callback_guard.h"

namespace pixelmill {
namespace {

Status FsError(const std::string& what, const std::string& path, ssize_t code) {
  return Status::Error(Code::kWrite,
                       what + " " + path + ": " + uv_strerror(static_cast<int>(code)));
}

}  // namespace

ManifestAppender::ManifestAppender(uv_loop_t& loop, std::string path, uint64_t sync_interval_ms,
                                   size_t sync_lines)
    : loop_(loop),
      path_(std::move(path)),
      sync_interval_ms_(sync_interval_ms),
      sync_lines_(sync_lines) {}

ManifestAppender::~ManifestAppender() { assert(fd_ < 0 && !timer_open_); }

Status ManifestAppender::Open() {
  uv_fs_t req;
  // Never truncated here: OutputDir::Begin has removed an earlier run's manifest unless it is
  // to be continued. O_NOFOLLOW: a symlink planted at the name is refused, not written through.
  const int fd = uv_fs_open(nullptr, &req, path_.c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644, nullptr);
  uv_fs_req_cleanup(&req);
  if (fd == UV_ELOOP) {
    return Status::Error(Code::kIo, "refusing to open " + path_ +
                                        ": it is a symbolic link (pixelmill does not write through "
                                        "symbolic links); remove it or choose another --output");
  }
  if (fd < 0) return Status::Error(Code::kIo, "cannot open " + path_ + ": " + uv_strerror(fd));
  const int rc = uv_fs_fstat(nullptr, &req, fd, nullptr);
  size_ = req.statbuf.st_size;
  uv_fs_req_cleanup(&req);
  if (rc < 0) {
    uv_fs_close(nullptr, &req, fd, nullptr);
    uv_fs_req_cleanup(&req);
    return Status::Error(Code::kIo, "cannot inspect " + path_ + ": " + uv_strerror(rc));
  }
  fd_ = fd;
  uv_timer_init(&loop_, &sync_timer_);
  sync_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&sync_timer_));
  timer_open_ = true;
  last_sync_ms_ = uv_now(&loop_);
  return Status::Ok();
}

void ManifestAppender::Close(DoneFn done) {
  closing_ = true;
  on_closed_ = std::move(done);
  MaybeFinishClose();
}

void ManifestAppender::Append(std::string line, DoneFn done) {
  assert(fd_ >= 0);
  line.push_back('\n');
  queued_.push_back(Line{std::move(line), std::move(done)});
  if (writing_.empty() && !delivering_) WriteQueuedLines();
}

void ManifestAppender::WriteQueuedLines() {
  assert(writing_.empty() && !queued_.empty());
  write_.clear();
  write_done_ = 0;
  while (!queued_.empty()) {
    write_ += queued_.front().text;
    writing_.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  if (!error_.ok()) {
    // After a failed append nothing more is written. The lines get that error from the loop,
    // through a no-op pool job, rather than on their caller's stack.
    refuse_req_.data = this;
    const int rc = uv_queue_work(
        &loop_, &refuse_req_, [](uv_work_t*) {},
        [](uv_work_t* work, int) {
          ManifestAppender& appender = *static_cast<ManifestAppender*>(work->data);
          Guarded(work->loop, "manifest", [&] { appender.DeliverLines(0, appender.error_); });
        });
    if (rc < 0) DeliverLines(0, error_);
    return;
  }
  WriteRest();
}

void ManifestAppender::WriteRest() {
  uv_buf_t buf =
      uv_buf_init(write_.data() + write_done_, static_cast<unsigned>(write_.size() - write_done_));
  write_req_.data = this;
  const int rc = uv_fs_write(&loop_, &write_req_, fd_, &buf, 1, -1, [](uv_fs_t* req) {
    const ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    Guarded(req->loop, "manifest write",
            [&] { static_cast<ManifestAppender*>(req->data)->OnLinesWritten(result); });
  });
  if (rc < 0) OnLinesWritten(rc);
}

void ManifestAppender::OnLinesWritten(ssize_t result) {
  if (result > 0) {
    write_done_ += static_cast<size_t>(result);
    if (write_done_ < write_.size()) return WriteRest();  // a short write: the rest
    size_ += write_.size();
    lines_written_ += writing_.size();
    MaybeSync(false);
    return DeliverLines(writing_.size(), Status::Ok());
  }
  // The lines of this write that reached the file whole stay; the rest are cut off and fail.
  size_t kept = 0, kept_bytes = 0;
  while (kept < writing_.size() && kept_bytes + writing_[kept].text.size() <= write_done_) {
    kept_bytes += writing_[kept].text.size();
    ++kept;
  }
  size_ += kept_bytes;
  lines_written_ += kept;
  Stop(result < 0 ? uv_strerror(static_cast<int>(result)) : "no progress (file system full?)");
  DeliverLines(kept, error_);
}

void ManifestAppender::Stop(const std::string& reason) {
  const std::string path = path_;
  std::string message = "cannot append to " + path + ": " + reason;
  // Cut off whatever part of the failed write reached the file, so the manifest ends with its
  // last complete line. Blocking, but it happens once.
  uv_fs_t req;
  const int rc = uv_fs_ftruncate(nullptr, &req, fd_, static_cast<int64_t>(size_), nullptr);
  uv_fs_req_cleanup(&req);
  if (rc < 0) {
    message += "; nor cut it back to its last complete line (" + std::string(uv_strerror(rc)) +
               "), so its last line may be incomplete";
  }
  error_ = Status::Error(Code::kWrite, message);
}

void ManifestAppender::DeliverLines(size_t written, const Status& status) {
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

// A sync starts once sync_lines lines or sync_interval_ms have
// passed since the last one (`now` forces it); the timer catches the tail of a burst.
void ManifestAppender::MaybeSync(bool now) {
  if (syncing_ || fd_ < 0 || synced_lines_ == lines_written_ || !error_.ok()) {
    return;
  }
  const uint64_t since = uv_now(&loop_) - last_sync_ms_;
  if (!now && lines_written_ - synced_lines_ < sync_lines_ && since < sync_interval_ms_) {
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&sync_timer_))) {
      uv_timer_start(
          &sync_timer_,
          [](uv_timer_t* t) {
            Guarded(t->loop, "manifest sync",
                    [&] { static_cast<ManifestAppender*>(t->data)->MaybeSync(true); });
          },
          sync_interval_ms_ - since, 0);
    }
    return;
  }
  uv_timer_stop(&sync_timer_);
  syncing_ = true;
  last_sync_ms_ = uv_now(&loop_);
  sync_req_.data = this;
  const uint64_t covering = lines_written_;
  const int rc = uv_fs_fdatasync(&loop_, &sync_req_, fd_, [](uv_fs_t* req) {
    const ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    Guarded(req->loop, "manifest sync",
            [&] { static_cast<ManifestAppender*>(req->data)->OnSynced(result); });
  });
  if (rc < 0) return OnSynced(rc);
  synced_lines_ = covering;
}

void ManifestAppender::OnSynced(ssize_t result) {
  syncing_ = false;
  ++syncs_;
  if (result < 0) Remember(FsError("cannot sync", path_, result));
  if (closing_) return MaybeFinishClose();
  MaybeSync(false);
}

void ManifestAppender::MaybeFinishClose() {
  if (!closing_ || !on_closed_ || pending() > 0) return;
  if (timer_open_) {
    timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&sync_timer_), nullptr);
  }
  if (fd_ >= 0) {
    uv_fs_t req;
    // Blocking, once, at the very end: the manifest is durable before the exit code says so.
    if (int rc = uv_fs_fsync(nullptr, &req, fd_, nullptr); rc < 0) {
      Remember(FsError("cannot sync", path_, rc));
    }
    uv_fs_req_cleanup(&req);
    if (int rc = uv_fs_close(nullptr, &req, fd_, nullptr); rc < 0) {
      Remember(FsError("cannot close", path_, rc));
    }
    uv_fs_req_cleanup(&req);
    fd_ = -1;
  }
  DoneFn done = std::move(on_closed_);
  on_closed_ = nullptr;
  done(first_error_);
}

void ManifestAppender::Remember(const Status& s) {
  if (!s.ok() && first_error_.ok()) first_error_ = s;
}

}  // namespace pixelmill
