#include "coordinator/sink.h"

#include <fcntl.h>

#include <cassert>
#include <filesystem>

namespace pixelmill {
namespace {

Status FsError(const std::string& what, const std::string& path, ssize_t code) {
  return Status::Error("write", what + " " + path + ": " + uv_strerror(static_cast<int>(code)));
}

}  // namespace

// One file on its way to disk: open the temp name, write, close, rename.
struct Sink::FileWrite {
  enum Stage { kOpen, kWrite, kClose, kRename, kUnlink };
  Sink* sink = nullptr;
  uv_fs_t req{};
  Stage stage = kOpen;
  std::string temp_path, final_path;
  std::string bytes;
  size_t written = 0;
  uv_file fd = -1;
  Status error;  // first error; after it the temp file is closed and removed
  DoneFn done;
};

Sink::Sink(uv_loop_t& loop, std::string output_dir)
    : loop_(loop), output_dir_(std::move(output_dir)) {}

Sink::~Sink() { assert(manifest_ < 0 && files_.empty()); }

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
  auto owned = std::make_unique<FileWrite>();
  FileWrite& w = *owned;
  files_[&w] = std::move(owned);
  w.sink = this;
  w.final_path = output_dir_ + "/" + relative_path;
  const size_t slash = w.final_path.rfind('/');
  w.temp_path = w.final_path.substr(0, slash + 1) + "." + w.final_path.substr(slash + 1) + ".tmp";
  w.bytes = std::move(bytes);
  w.done = std::move(done);
  w.req.data = &w;
  const int rc = uv_fs_open(&loop_, &w.req, w.temp_path.c_str(),
                            O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, [](uv_fs_t* req) {
                              auto* fw = static_cast<FileWrite*>(req->data);
                              fw->sink->StepFile(*fw, req);
                            });
  if (rc < 0) FinishFile(w, FsError("cannot create", w.temp_path, rc));
}

// Advances a file write by one stage; each uv_fs call comes back here.
void Sink::StepFile(FileWrite& w, uv_fs_t* req) {
  const ssize_t result = req->result;
  uv_fs_req_cleanup(req);
  const auto again = [](uv_fs_t* r) {
    auto* fw = static_cast<FileWrite*>(r->data);
    fw->sink->StepFile(*fw, r);
  };
  switch (w.stage) {
    case FileWrite::kOpen:
      if (result < 0) return FinishFile(w, FsError("cannot create", w.temp_path, result));
      w.fd = static_cast<uv_file>(result);
      w.stage = FileWrite::kWrite;
      break;
    case FileWrite::kWrite:
      if (result < 0) {
        w.error = FsError("cannot write", w.temp_path, result);
      } else {
        w.written += static_cast<size_t>(result);
      }
      break;
    case FileWrite::kClose:
      if (result < 0 && w.error.ok()) w.error = FsError("cannot close", w.temp_path, result);
      w.fd = -1;
      if (!w.error.ok()) {
        w.stage = FileWrite::kUnlink;
        uv_fs_unlink(&loop_, &w.req, w.temp_path.c_str(), again);
        return;
      }
      w.stage = FileWrite::kRename;
      uv_fs_rename(&loop_, &w.req, w.temp_path.c_str(), w.final_path.c_str(), again);
      return;
    case FileWrite::kRename:
      if (result < 0) {
        w.error = FsError("cannot rename to", w.final_path, result);
        w.stage = FileWrite::kUnlink;
        uv_fs_unlink(&loop_, &w.req, w.temp_path.c_str(), again);
        return;
      }
      return FinishFile(w, Status::Ok());
    case FileWrite::kUnlink:
      return FinishFile(w, w.error);
  }
  // kWrite: write what is left, or close when done (or failed).
  if (w.error.ok() && w.written < w.bytes.size()) {
    uv_buf_t buf =
        uv_buf_init(w.bytes.data() + w.written, static_cast<unsigned>(w.bytes.size() - w.written));
    uv_fs_write(&loop_, &w.req, w.fd, &buf, 1, static_cast<int64_t>(w.written), again);
    return;
  }
  w.stage = FileWrite::kClose;
  uv_fs_close(&loop_, &w.req, w.fd, again);
}

void Sink::FinishFile(FileWrite& w, Status status) {
  Remember(status);
  DoneFn done = std::move(w.done);
  files_.erase(&w);  // destroys w
  done(status);
  MaybeFinishClose();
}

void Sink::AppendManifest(std::string line, DoneFn done) {
  assert(manifest_ >= 0);
  line.push_back('\n');
  queued_.push_back(Line{std::move(line), std::move(done)});
  if (writing_.empty()) WriteQueuedLines();
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
  for (Line& line : finished) line.done(status);
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
