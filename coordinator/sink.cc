#include "coordinator/sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pixelmill {
namespace {

Status FsError(const std::string& what, const std::string& path, ssize_t code) {
  return Status::Error("write", what + " " + path + ": " + uv_strerror(static_cast<int>(code)));
}

}  // namespace

// One file on its way to disk.
struct Sink::FileWrite {
  std::string directory, final_path;
  std::string bytes;
  Status result;  // set on the pool thread, read on the loop thread after it
  DoneFn done;
};

// A thread-pool job writing several files.
struct Sink::Batch {
  Sink* sink = nullptr;
  uv_work_t work{};
  std::vector<FileWrite> files;
};

namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Status::Error("write", what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const std::string& bytes, const std::string& path) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("cannot write", path);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Portable path: a temporary name in the same folder, then rename over the final name.
Status WriteByRename(const std::string& bytes, const std::string& final_path) {
  const size_t slash = final_path.rfind('/');
  const std::string temp =
      final_path.substr(0, slash + 1) + "." + final_path.substr(slash + 1) + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  Status s = WriteAll(fd, bytes, temp);
  if (::close(fd) != 0 && s.ok()) s = Errno("cannot close", temp);
  if (s.ok() && ::rename(temp.c_str(), final_path.c_str()) != 0) {
    s = Errno("cannot rename to", final_path);
  }
  if (!s.ok()) ::unlink(temp.c_str());
  return s;
}

// Runs on a pool thread: the file appears under its final name complete, or not at all.
Status WriteFileNow(const std::string& directory, const std::string& final_path,
                    const std::string& bytes) {
  const int fd = ::open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return WriteByRename(bytes, final_path);  // no O_TMPFILE here
  Status s = WriteAll(fd, bytes, final_path);
  if (s.ok()) {
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, final_path.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      // EEXIST (a file from an earlier run) or no /proc: replace atomically by rename instead.
      s = WriteByRename(bytes, final_path);
    }
  }
  ::close(fd);
  return s;
}

}  // namespace

Sink::Sink(uv_loop_t& loop, std::string output_dir)
    : loop_(loop), output_dir_(std::move(output_dir)) {}

Sink::~Sink() { assert(manifest_ < 0 && files_pending_ == 0); }

Status Sink::Open() {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(output_dir_) / "images", ec);
  if (ec) {
    return Status::Error("io",
                         "cannot create output folder " + output_dir_ + "/images: " + ec.message());
  }
  const std::string path = output_dir_ + "/manifest.jsonl";
  uv_fs_t req;
  const int fd = uv_fs_open(nullptr, &req, path.c_str(),
                            O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644, nullptr);
  uv_fs_req_cleanup(&req);
  if (fd < 0) {
    return Status::Error("io", "cannot open " + path + ": " + uv_strerror(fd));
  }
  manifest_ = fd;
  return Status::Ok();
}

void Sink::WriteFile(std::string relative_path, std::string bytes, DoneFn done) {
  assert(!closing_);
  FileWrite& w = waiting_files_.emplace_back();
  w.final_path = output_dir_ + "/" + relative_path;
  w.directory = w.final_path.substr(0, w.final_path.rfind('/'));
  w.bytes = std::move(bytes);
  w.done = std::move(done);
  ++files_pending_;
  StartBatches();
}

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
          for (FileWrite& w : static_cast<Batch*>(work->data)->files) {
            w.result = WriteFileNow(w.directory, w.final_path, w.bytes);
          }
        },
        [](uv_work_t* work, int status) {
          auto* b = static_cast<Batch*>(work->data);
          b->sink->FinishBatch(*b, status);
        });
    if (rc < 0) FinishBatch(batch, rc);
  }
}

void Sink::FinishBatch(Batch& batch, int status) {
  std::unique_ptr<Batch> owned = std::move(batches_[&batch]);
  batches_.erase(&batch);
  for (FileWrite& w : owned->files) {
    if (status < 0 && w.result.ok()) w.result = FsError("cannot write", w.final_path, status);
    Remember(w.result);
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
  batch_.clear();
  batch_written_ = 0;
  while (!queued_.empty()) {
    batch_ += queued_.front().text;
    writing_.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  uv_buf_t buf = uv_buf_init(batch_.data(), static_cast<unsigned>(batch_.size()));
  manifest_req_.data = this;
  const int rc = uv_fs_write(&loop_, &manifest_req_, manifest_, &buf, 1, -1, [](uv_fs_t* req) {
    const ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    static_cast<Sink*>(req->data)->OnLinesWritten(result);
  });
  if (rc < 0) OnLinesWritten(rc);
}

void Sink::OnLinesWritten(ssize_t result) {
  if (result >= 0) {
    batch_written_ += static_cast<size_t>(result);
    if (batch_written_ < batch_.size() && result > 0) {  // a short write: send the rest
      uv_buf_t buf = uv_buf_init(batch_.data() + batch_written_,
                                 static_cast<unsigned>(batch_.size() - batch_written_));
      const int rc = uv_fs_write(&loop_, &manifest_req_, manifest_, &buf, 1, -1, [](uv_fs_t* req) {
        const ssize_t r = req->result;
        uv_fs_req_cleanup(req);
        static_cast<Sink*>(req->data)->OnLinesWritten(r);
      });
      if (rc < 0) OnLinesWritten(rc);
      return;
    }
  }
  const Status status = result < 0
                            ? FsError("cannot append to", output_dir_ + "/manifest.jsonl", result)
                            : Status::Ok();
  Remember(status);
  std::vector<Line> finished = std::move(writing_);
  writing_.clear();
  // A done callback may append lines: they wait in queued_ until every callback has run, so
  // only one write is ever in flight.
  delivering_ = true;
  for (Line& line : finished) line.done(status);
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

void Sink::MaybeFinishClose() {
  if (!closing_ || !on_closed_ || pending() > 0) return;
  if (manifest_ >= 0) {
    uv_fs_t req;
    // Blocking, once, at the very end: the manifest is durable before the exit code says so.
    if (int rc = uv_fs_fsync(nullptr, &req, manifest_, nullptr); rc < 0) {
      Remember(FsError("cannot sync", output_dir_ + "/manifest.jsonl", rc));
    }
    uv_fs_req_cleanup(&req);
    if (int rc = uv_fs_close(nullptr, &req, manifest_, nullptr); rc < 0) {
      Remember(FsError("cannot close", output_dir_ + "/manifest.jsonl", rc));
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
