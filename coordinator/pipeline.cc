#include "coordinator/pipeline.h"

#include <signal.h>
#include <stdlib.h>

#include <unistd.h>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>

#include "common/image_format.h"
#include "common/image_probe.h"
#include "common/json_writer.h"
#include "coordinator/early_signals.h"

namespace pixelmill {
namespace {

const char* SignalName(int signum) {
  switch (signum) {
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "SIGTERM";
  }
}

}  // namespace

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
//   2. Pump() hands users to the downloader while it accepts more (it keeps --concurrency on the
//      wire and a bounded backlog waiting for their hosts) and fewer than --concurrency
//      downloaded users are being filtered or saved;
//   3. each finished download is sniffed, written (temp + rename) and its manifest line
//      appended; each written line frees a place, and Pump() runs again;
//   4. when every user has its line (or a signal or fatal error stops the run), every stage is
//      closed and uv_run returns once the last handle is released.
PipelineResult Pipeline::Run() {
  const auto started = std::chrono::steady_clock::now();
  PipelineResult result;
  // Signals first: one that arrives while workers are being spawned must stop the run in order,
  // not kill the coordinator. SIGHUP (a closed terminal) is treated like SIGTERM.
  const auto on_signal = [](uv_signal_t* h, int signum) {
    static_cast<Pipeline*>(h->data)->Interrupt(signum);
  };
  for (auto& [handle, signum] :
       {std::pair{&sigint_, SIGINT}, std::pair{&sigterm_, SIGTERM}, std::pair{&sighup_, SIGHUP}}) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, on_signal, signum);
  }
  if (Status s = sink_.Open(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    CloseSignals();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return result;
  }
  result.started = true;
  if (Status s = downloader_.Init(); !s.ok()) fatal_ = s.message();
  if (fatal_.empty() && !options_.filter_spec.IsNone()) {
    if (Status s = StartWorkers(); !s.ok()) fatal_ = s.message();
  }

  if (const int signum = EarlySignal(); signum != 0) {
    Interrupt(signum);  // it came while the input was loading: stop before any download
  } else if (fatal_.empty()) {
    Pump();
  } else {
    stopping_ = true;  // nothing started: close everything and report fatal_
  }
  MaybeShutDown();
  uv_run(&loop_, UV_RUN_DEFAULT);

  result.ok = ok_;
  result.failed = failed_;
  result.downloads = downloader_.stats();
  if (dispatcher_) result.dispatch = dispatcher_->stats();
  if (supervisor_) result.worker_restarts = supervisor_->restarts();
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
  // A user is the downloader's until its body arrives, then holds a save slot until its manifest
  // line is written: downloads restart at once while earlier images are still being saved, and
  // memory stays under 2 x concurrency x max image bytes.
  const size_t limit = options_.download.concurrency;
  while (!stopping_ && next_ < store_.size() && downloader_.accepting() &&
         busy_ - downloader_.pending() < limit) {
    const size_t user = next_++;
    if (store_.status(user) != UserStatus::kPending) continue;
    ++busy_;
    if (dispatcher_ && !dispatcher_->gave_up().empty()) {
      // No worker will ever come: fail the rest without downloading their images.
      Fail(user, "no_workers", dispatcher_->gave_up(), 0);
      continue;
    }
    if (auto refused = downloader_.Start(user, store_.Get(user).image_url)) {
      Fail(user, refused->code, refused->message, 0);
    }
  }
}

// Local workers connect over an abstract-namespace ipc:// endpoint (Linux: no file, so nothing
// is left behind whatever ends the run; peers of another user id are refused), remote ones to
// --bind. The supervisor spawns the local ones; their exit reports reach the dispatcher.
Status Pipeline::StartWorkers() {
  std::random_device random;
  char name[64];
  std::snprintf(name, sizeof(name), "ipc://@pixelmill-%d-%08x%08x", static_cast<int>(::getpid()),
                random(), random());
  const std::string endpoint = name;
  DispatchOptions d;
  d.filter = options_.filter_spec;
  d.output = options_.filter_output;
  d.max_attempts = options_.max_attempts;
  d.heartbeat_ms = options_.heartbeat_ms;
  d.endpoints = {endpoint};
  if (!options_.bind.empty()) d.endpoints.push_back(options_.bind);
  d.max_payload_bytes = options_.download.max_image_bytes * 4 + (1 << 20);
  d.expected_workers = options_.workers;
  d.job_timeout_ms = options_.job_timeout_ms;
  d.remote_wait_ms = options_.remote_wait_ms;
  d.on_local_join = [this](uint32_t pid) {
    if (supervisor_) supervisor_->MarkReady(static_cast<pid_t>(pid));
  };
  d.on_local_lost = [this](uint32_t pid) {
    if (supervisor_) supervisor_->Kill(static_cast<pid_t>(pid));
  };
  dispatcher_ = std::make_unique<Dispatcher>(loop_, std::move(d),
                                             [this](JobOutcome&& o) { OnFiltered(std::move(o)); });
  if (Status s = dispatcher_->Init(); !s.ok()) return s;
  if (!options_.bind.empty()) {
    std::fprintf(stderr, "pixelmill: remote workers may connect to %s\n",
                 dispatcher_->bound().back().c_str());
  }
  if (options_.workers == 0) {
    dispatcher_->NoLocalWorkers("no local workers (--workers 0)");
    return Status::Ok();
  }
  SupervisorOptions sup;
  sup.workers = options_.workers;
  sup.worker_binary = options_.worker_binary;
  sup.endpoint = endpoint;
  sup.address_space_mb = options_.worker_memory_mb > 0
                             ? options_.worker_memory_mb
                             : WorkerAddressSpaceMb(options_.filter_output.max_pixels);
  supervisor_ = std::make_unique<WorkerSupervisor>(
      loop_, std::move(sup),
      [this](pid_t pid, const std::string& how) {
        if (!shut_down_) dispatcher_->WorkerExited(static_cast<uint32_t>(pid), how);
      },
      [this](const std::string& why) { dispatcher_->NoLocalWorkers(why); });
  return supervisor_->Start();
}

void Pipeline::OnDownloaded(Download&& d) {
  const size_t user = d.tag;
  Pump();  // this download's slot is free again
  if (d.failure) return Fail(user, d.failure->code, d.failure->message, d.attempts);
  // The bytes decide, not the Content-Type header: a JPEG sent as text/html is still a JPEG,
  // and an HTML page sent as image/jpeg is not an image.
  // A header that parses, declares its dimensions and is followed by image data is required
  // even when nothing decodes the image (--filter none).
  Result<ImageHeader> header = ProbeImage(d.body.view());
  if (!header.ok()) {
    std::string message = "body from " + d.url +
                          " is not a usable image: " + header.status().message() +
                          " (Content-Type was '" + d.content_type.substr(0, 100) + "', " +
                          std::to_string(d.body.size()) + " bytes)";
    return Fail(user, "not_image", message, d.attempts);
  }
  const Fetched fetched{d.attempts, d.seconds * 1000};
  if (!dispatcher_) {
    d.body.set_format(header->format);
    SaveInfo info;
    info.download = fetched;
    info.width = header->width;
    info.height = header->height;
    return Save(user, std::move(d.body), std::move(info));
  }
  if (!dispatcher_->gave_up().empty()) return Fail(user, "no_workers", dispatcher_->gave_up(), 0);
  fetched_[user] = fetched;
  dispatcher_->Submit(user, std::move(d.body));
}

void Pipeline::OnFiltered(JobOutcome&& o) {
  SaveInfo info;
  if (auto it = fetched_.find(o.user); it != fetched_.end()) {
    info.download = it->second;
    fetched_.erase(it);
  }
  if (!o.error_code.empty()) return Fail(o.user, o.error_code, o.error_message, o.attempts);
  info.attempts = o.attempts;
  info.cpu_micros = o.cpu_micros;
  info.filtered = true;
  info.worker = o.worker;
  info.width = o.width;
  info.height = o.height;
  Save(o.user, std::move(o.image), std::move(info));
}

void Pipeline::Save(size_t user, ImageBuffer bytes, SaveInfo info) {
  const OutputFormat format = bytes.format();
  store_.SetOutcome(user, UserStatus::kPending, format);
  const std::string path = store_.OutputPath(user);
  const uint64_t size = bytes.size();
  sink_.WriteFile(path, std::move(bytes), [=, this](const Status& written) {
    if (!written.ok()) return Fail(user, written.code(), written.message(), info.attempts);
    JsonObject line;
    line.Add("id", store_.id(user))
        .Add("status", "ok")
        .Add("output", path)
        .Add("bytes", size)
        .Add("format", ExtensionFor(format))
        .Add("content_type", ContentTypeFor(format))
        .Add("width", uint64_t{info.width})
        .Add("height", uint64_t{info.height})
        .Add("attempts", uint64_t{info.filtered ? info.attempts : info.download.attempts})
        .Add("download_ms", info.download.ms);
    if (info.filtered) {
      line.Add("download_attempts", uint64_t{info.download.attempts})
          .Add("filter", options_.filter_spec.text)
          .Add("cpu_ms", static_cast<double>(info.cpu_micros) / 1000)
          .Add("worker", info.worker);
    }
    Finish(user, UserStatus::kOk, format, line.Done());
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
  sink_.AppendManifest(std::move(line),
                       [this, status](const Status& s) { OnLineWritten(status, s); });
}

// Counts only what the manifest holds: a line that could not be written is not a result.
void Pipeline::OnLineWritten(UserStatus user_status, const Status& status) {
  assert(busy_ > 0);
  --busy_;
  if (status.ok()) {
    (user_status == UserStatus::kOk ? ok_ : failed_)++;
  } else {
    // Nothing more can be recorded: stop at once instead of finishing work that is then lost.
    Abandon(status.message() + " (the manifest holds every line before this error)");
  }
  Pump();
  MaybeShutDown();
}

void Pipeline::MaybeShutDown() {
  if ((stopping_ || next_ == store_.size()) && busy_ == 0) ShutDown();
}

void Pipeline::Interrupt(int signum) {
  Abandon(std::string("interrupted by ") + SignalName(signum) +
          ": every finished user is in the manifest; " +
          std::to_string(store_.size() - ok_ - failed_) + " user(s) were not processed");
}

void Pipeline::Abandon(const std::string& why) {
  if (shut_down_) return;  // already closing (or every user is done)
  stopping_ = true;
  if (fatal_.empty()) fatal_ = why;
  // Downloads and jobs in flight are abandoned; their users get no line, like the ones never
  // started.
  busy_ -= downloader_.pending() + (dispatcher_ ? dispatcher_->pending() : 0);
  ShutDown();
}

void Pipeline::ShutDown() {
  if (shut_down_) return;
  shut_down_ = true;
  closing_ = 2 + (dispatcher_ ? 1 : 0) + (supervisor_ ? 1 : 0);
  downloader_.Close([this] { HandleClosed(); });
  // Workers get Shutdown first, then two seconds to go before SIGKILL.
  if (dispatcher_) dispatcher_->Close([this] { HandleClosed(); });
  if (supervisor_) supervisor_->Close(2000, [this] { HandleClosed(); });
  sink_.Close([this](const Status& s) {
    if (!s.ok() && fatal_.empty()) fatal_ = s.message();
    HandleClosed();
  });
  // The signal handles stay until everything else has closed (HandleClosed): a Ctrl-C while
  // workers are being stopped is then ignored instead of killing the coordinator mid-cleanup.
}

void Pipeline::HandleClosed() {
  assert(closing_ > 0);
  if (--closing_ > 0) return;
  CloseSignals();
}

void Pipeline::CloseSignals() {
  for (uv_signal_t* handle : {&sigint_, &sigterm_, &sighup_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
  }
}

}  // namespace pixelmill
