#include "coordinator/pipeline.h"

#include <signal.h>

#include <cassert>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/image_format.h"
#include "common/json_writer.h"

namespace pixelmill {

Pipeline::Pipeline(const Options& options, UserStore& store)
    : options_(options),
      store_(store),
      downloader_(loop_, options.download, [this](Download&& d) { OnDownloaded(std::move(d)); }),
      sink_(loop_, options.output) {
  uv_loop_init(&loop_);
}

Pipeline::~Pipeline() {
  // A handle still open here is a bug; say so loudly, in release builds too.
  if (const int rc = uv_loop_close(&loop_); rc != 0) {
    std::fprintf(stderr, "internal error: libuv loop closed with handles open (%s)\n",
                 uv_strerror(rc));
    std::abort();
  }
}

// The loop's order, start to end:
//   1. open the sink (output folder, manifest) and the downloader; watch SIGINT and SIGTERM;
//   2. Pump() starts downloads while fewer than --concurrency are downloading (and fewer than
//      --concurrency are being saved);
//   3. each finished download is sniffed, written (temp + rename) and its manifest line
//      appended; each written line frees a place, and Pump() runs again;
//   4. when every user has its line (or a signal or fatal error stops the run), every stage is
//      closed and uv_run returns once the last handle is released.
PipelineResult Pipeline::Run() {
  const auto started = std::chrono::steady_clock::now();
  PipelineResult result;
  if (Status s = sink_.Open(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return result;
  }
  if (Status s = downloader_.Init(); !s.ok()) fatal_ = s.message();
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
  const auto on_signal = [](uv_signal_t* h, int signum) {
    static_cast<Pipeline*>(h->data)->Interrupt(signum);
  };
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sigterm_, on_signal, SIGTERM);

  if (fatal_.empty()) Pump();
  MaybeShutDown();
  uv_run(&loop_, UV_RUN_DEFAULT);

  result.ok = ok_;
  result.failed = failed_;
  result.downloads = downloader_.stats();
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!fatal_.empty()) {
    std::fprintf(stderr, "error: %s\n", fatal_.c_str());
    result.exit_code = kExitFatal;
  } else {
    result.exit_code = failed_ > 0 ? kExitSomeFailed : kExitOk;
  }
  return result;
}

void Pipeline::Pump() {
  // A user holds a download slot until its body arrives, then a save slot until its manifest
  // line is written: downloads restart at once while earlier images are still being saved, and
  // memory stays under 2 x concurrency x max image bytes.
  const size_t limit = options_.download.concurrency;
  while (!stopping_ && next_ < store_.size() && downloader_.in_flight() < limit &&
         busy_ - downloader_.in_flight() < limit) {
    const size_t user = next_++;
    if (store_.status(user) != UserStatus::kPending) continue;
    ++busy_;
    if (auto refused = downloader_.Start(user, store_.Get(user).image_url)) {
      Fail(user, refused->code, refused->message, 0);
    }
  }
}

void Pipeline::OnDownloaded(Download&& d) {
  const size_t user = d.tag;
  Pump();  // this download's slot is free again
  if (d.failure) return Fail(user, d.failure->code, d.failure->message, d.attempts);
  // The bytes decide, not the Content-Type header: a JPEG sent as text/html is still a JPEG,
  // and an HTML page sent as image/jpeg is not an image.
  const OutputFormat format = SniffImageFormat(d.body);
  if (format == OutputFormat::kUnknown) {
    std::string message = "body from " + d.url + " is not a supported image (jpeg, png, webp, " +
                          "gif, avif, tiff); Content-Type was '" + d.content_type + "', " +
                          std::to_string(d.body.size()) + " bytes";
    return Fail(user, "not_image", message, d.attempts);
  }
  Save(user, std::move(d), format);
}

void Pipeline::Save(size_t user, Download&& d, OutputFormat format) {
  store_.SetOutcome(user, UserStatus::kPending, format);
  const std::string path = store_.OutputPath(user);
  const uint64_t bytes = d.body.size();
  const uint32_t attempts = d.attempts;
  const double download_ms = d.seconds * 1000;
  sink_.WriteFile(path, std::move(d.body), [=, this](const Status& written) {
    if (!written.ok()) return Fail(user, written.code(), written.message(), attempts);
    std::string line = JsonObject()
                           .Add("id", store_.id(user))
                           .Add("status", "ok")
                           .Add("output", path)
                           .Add("bytes", bytes)
                           .Add("content_type", ContentTypeFor(format))
                           .Add("attempts", uint64_t{attempts})
                           .Add("download_ms", download_ms)
                           .Done();
    Finish(user, UserStatus::kOk, format, std::move(line));
  });
}

void Pipeline::Fail(size_t user, const std::string& code, const std::string& message,
                    uint32_t attempts) {
  std::string error = JsonObject().Add("code", code).Add("message", message).Done();
  std::string line = JsonObject()
                         .Add("id", store_.id(user))
                         .Add("status", "failed")
                         .AddRaw("error", error)
                         .Add("attempts", uint64_t{attempts})
                         .Done();
  Finish(user, UserStatus::kFailed, OutputFormat::kUnknown, std::move(line));
}

void Pipeline::Finish(size_t user, UserStatus status, OutputFormat format, std::string line) {
  store_.SetOutcome(user, status, format);
  (status == UserStatus::kOk ? ok_ : failed_)++;
  sink_.AppendManifest(std::move(line), [this](const Status& s) { OnLineWritten(s); });
}

void Pipeline::OnLineWritten(const Status& status) {
  assert(busy_ > 0);
  --busy_;
  if (!status.ok() && fatal_.empty()) {
    fatal_ = status.message() + " (the manifest is incomplete)";
    stopping_ = true;
  }
  Pump();
  MaybeShutDown();
}

void Pipeline::MaybeShutDown() {
  if ((stopping_ || next_ == store_.size()) && busy_ == 0) ShutDown();
}

void Pipeline::Interrupt(int signum) {
  if (stopping_) return;
  stopping_ = true;
  fatal_ = std::string("interrupted by ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") +
           ": every finished user is in the manifest; " +
           std::to_string(store_.size() - ok_ - failed_) + " user(s) were not processed";
  // Downloads in flight are abandoned; their users get no line, like the ones never started.
  busy_ -= downloader_.in_flight();
  ShutDown();
}

void Pipeline::ShutDown() {
  if (shut_down_) return;
  shut_down_ = true;
  closing_ = 4;
  downloader_.Close([this] { HandleClosed(); });
  sink_.Close([this](const Status& s) {
    if (!s.ok() && fatal_.empty()) fatal_ = s.message();
    HandleClosed();
  });
  const auto closed = [](uv_handle_t* h) { static_cast<Pipeline*>(h->data)->HandleClosed(); };
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), closed);
}

void Pipeline::HandleClosed() {
  assert(closing_ > 0);
  --closing_;
}

}  // namespace pixelmill
