#include "coordinator/engine/sequential.h"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "common/base/hostname.h"
#include "common/filters/filter.h"
#include "common/image/image_probe.h"
#include "coordinator/download/blocking_fetch.h"
#include "coordinator/events/callback_guard.h"
#include "coordinator/events/run_text.h"
#include "coordinator/output/manifest.h"
#include "coordinator/output/sink.h"

namespace pixelmill {
namespace {

uint64_t ProcessCpuMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Why a filtered image in `format` is not what the run asked for, or "" (the Dispatcher's
// check of a worker's result, for the same bad_result).
std::string UnexpectedFormat(const Options& options, OutputFormat format) {
  if (options.filter_spec.IsStandIn()) return {};
  const OutputFormat asked = options.filter_output.format;
  const bool ok = asked != OutputFormat::kUnknown
                      ? format == asked
                      : format == OutputFormat::kJpeg || format == OutputFormat::kPng ||
                            format == OutputFormat::kWebp;
  return ok ? std::string() : std::string(ExtensionFor(format)) + " is not the format asked for";
}

class SequentialRun {
 public:
  SequentialRun(const Options& options, UserStore& store, Observer& observer, StopRequest* stop)
      : options_(options),
        store_(store),
        observer_(observer),
        stop_(stop),
        sink_(loop_, SinkOptions{options.output, options.durable}),
        fetch_(options.download, [this] { return ShouldStop(); }),
        worker_id_(Hostname() + ":" + std::to_string(::getpid()) + ":sequential") {
    uv_loop_init(&loop_);
    on_fatal_ = [this](const char* where, const char* what) {
      if (fatal_.empty()) fatal_ = std::string("internal error in ") + where + ": " + what;
    };
    InstallFatalHandler(loop_, &on_fatal_);
  }
  SequentialRun(const SequentialRun&) = delete;
  SequentialRun& operator=(const SequentialRun&) = delete;
  ~SequentialRun() {
    if (const int rc = uv_loop_close(&loop_); rc != 0) {
      std::fprintf(stderr, "internal error: libuv loop closed with handles open (%s)\n",
                   uv_strerror(rc));
      std::abort();
    }
  }

  PipelineResult Run();

 private:
  // Whether the run must stop now: a second signal, or the grace time after the first is over.
  bool ShouldStop();
  // The first stop signal was seen: notes when, and says so once.
  void NoteSignal();
  void RunUser(size_t user);
  void Commit(size_t user, ImageBuffer bytes, ManifestRecord info);
  void Fail(size_t user, const Status& error, uint32_t attempts);
  // Runs the private loop until `done` is true (the sink's callback ran); false (and fatal_ set)
  // if the loop ran out of work first.
  bool RunLoopUntil(const bool& done);

  int StopRequests() const { return stop_ != nullptr ? stop_->requests() : 0; }
  int StopSignal() const { return stop_ != nullptr ? stop_->first_signal() : 0; }

  const Options& options_;
  UserStore& store_;
  Observer& observer_;
  StopRequest* stop_;
  uv_loop_t loop_{};
  FatalHandler on_fatal_;
  Sink sink_;
  BlockingFetch fetch_;
  const std::string worker_id_;
  LineCounts lines_;             // as the Pipeline counts them
  uint64_t image_warnings_ = 0;  // libvips warnings about the images filtered here
  double first_signal_at_ = 0;   // when the first stop signal was seen (0: none yet)
  std::string fatal_;            // why the run stopped early, if it did
};

bool SequentialRun::ShouldStop() {
  const int signals = StopRequests();
  if (signals == 0) return false;
  NoteSignal();
  return signals >= 2 || options_.grace_ms == 0 ||
         NowSeconds() - first_signal_at_ > static_cast<double>(options_.grace_ms) / 1000;
}

void SequentialRun::NoteSignal() {
  if (first_signal_at_ != 0) return;
  first_signal_at_ = NowSeconds();
  Emit(observer_, LogLevel::kWarning,
       "%s: starting no new user; finishing the one in flight for up to %.1f s (send it again "
       "to stop now)",
       StopSignalName(StopSignal()), static_cast<double>(options_.grace_ms) / 1000);
}

PipelineResult SequentialRun::Run() {
  const double started = NowSeconds();
  PipelineResult result;
  size_t todo = 0;
  for (size_t i = 0; i < store_.size(); ++i) todo += store_.status(i) == UserStatus::kPending;
  if (Status s = sink_.Open(); !s.ok()) {
    observer_.OnEvent(LogLevel::kError, s.message());
    return result;
  }
  result.output_opened = true;
  if (Status s = fetch_.Init(); !s.ok()) fatal_ = s.message();
  if (fatal_.empty() && !options_.filter_spec.IsNone()) {
    if (Status s = InitFilters(); !s.ok()) fatal_ = s.message();
  }
  for (size_t user = 0; user < store_.size() && fatal_.empty(); ++user) {
    if (store_.status(user) != UserStatus::kPending) continue;
    if (StopRequests() > 0) {
      NoteSignal();
      break;  // no new user after a stop signal
    }
    RunUser(user);
  }
  bool closed = false;
  sink_.Close([&](const Status& s) {
    if (!s.ok() && fatal_.empty()) fatal_ = s.message();
    closed = true;
  });
  RunLoopUntil(closed);
  uv_run(&loop_, UV_RUN_DEFAULT);  // the sink's closing handles

  static_cast<LineCounts&>(result) = lines_;
  result.left = todo - lines_.ok - lines_.failed;
  result.downloads = fetch_.stats();
  result.manifest_syncs = sink_.syncs();
  result.dispatch.image_warnings = image_warnings_;
  result.wall_seconds = NowSeconds() - started;
  // A stop that came after the last user started leaves nothing undone: the run completed.
  result.exit_code =
      EndOfRun(observer_, StopRequests() > 0 && result.left > 0, StopSignal(), fatal_, lines_.ok,
               lines_.failed, result.left, options_.command_line, result.interrupted);
  return result;
}

// One user, start to line: download, check, filter, commit. Returns with its line written, or
// with none when the run is stopping (the user is left for a resume).
void SequentialRun::RunUser(size_t user) {
  std::optional<Download> d = fetch_.Fetch(store_.Get(user).image_url);
  if (!d) return;  // stopped mid-download
  if (!d->failure.ok()) return Fail(user, d->failure, d->attempts);
  // The bytes decide, not the Content-Type header, as in the Pipeline.
  Result<ImageHeader> header = ProbeImage(d->body.view());
  if (!header.ok()) {
    return Fail(user,
                Status::Error(Code::kNotImage, NotImageMessage(d->url, header.status().message(),
                                                               d->content_type, d->body.size())),
                d->attempts);
  }
  ManifestRecord info;
  info.download_attempts = d->attempts;
  info.download_ms = Millis(d->elapsed);
  if (options_.filter_spec.IsNone()) {
    d->body.set_format(header->format);
    info.width = header->width;
    info.height = header->height;
    return Commit(user, std::move(d->body), std::move(info));
  }
  const uint64_t cpu_start = ProcessCpuMicros();
  std::optional<Result<FilterOutput>> output;
  try {
    output.emplace(RunFilter(options_.filter_spec, options_.filter_output, d->body.view()));
  } catch (const std::exception& e) {
    // As a worker reports a stray exception (e.g. bad_alloc on a huge image).
    output.emplace(Status::Error(Code::kInternal,
                                 "filter '" + options_.filter_spec.text + "' failed: " + e.what()));
  }
  info.cpu_micros = ProcessCpuMicros() - cpu_start;
  if (!output->ok()) {
    return Fail(user, output->status(), d->attempts + 1);
  }
  if (output->value().warnings > 0) {
    image_warnings_ += output->value().warnings;
    Emit(observer_, LogLevel::kDebug, "user %lld: %u libvips warning(s): %s",
         static_cast<long long>(store_.id(user)), output->value().warnings,
         output->value().warning_text.c_str());
  }
  ImageBuffer image =
      output->value().bytes ? std::move(*output->value().bytes) : std::move(d->body);
  // Checked as the Dispatcher checks a worker's result.
  Result<ImageHeader> result = ProbeImage(image.view());
  std::string problem =
      result.ok() ? UnexpectedFormat(options_, result->format) : result.status().message();
  if (!problem.empty()) {
    return Fail(user,
                Status::Error(Code::kBadResult, "the filter returned an invalid image: " + problem),
                d->attempts + 1);
  }
  image.set_format(result->format);
  info.filtered = true;
  info.filter_attempts = 1;
  info.filter = options_.filter_spec.text;
  info.worker = worker_id_;
  info.width = result->width;
  info.height = result->height;
  Commit(user, std::move(image), std::move(info));
}

void SequentialRun::Commit(size_t user, ImageBuffer bytes, ManifestRecord info) {
  const uint32_t attempts = PrepareOkLine(store_, user, bytes, info);
  bool done = false;
  CommitResult how = CommitResult::kCommitted;
  Status error;
  sink_.Commit(info.output, std::move(bytes), ToLine(info),
               [&](CommitResult result, const Status& status) {
                 how = result;
                 error = status;
                 done = true;
               });
  if (!RunLoopUntil(done)) return;
  switch (how) {
    case CommitResult::kCommitted:
      store_.SetOutcome(user, UserStatus::kOk, info.format);
      lines_.Count(UserStatus::kOk, {});
      return;
    case CommitResult::kImageFailed:
      // No room is the output's failure, not the user's: stop, and leave the user for a resume.
      if (error.code() == Code::kFull) {
        fatal_ = error.message() + " (the manifest holds every line before this error)";
        return;
      }
      return Fail(user, error, attempts);
    case CommitResult::kLineFailed:
      fatal_ = error.message() + " (the manifest holds every line before this error)";
      return;
  }
}

void SequentialRun::Fail(size_t user, const Status& error, uint32_t attempts) {
  bool done = false;
  Status written;
  sink_.AppendManifest(FailedLine(store_.id(user), error, attempts), [&](const Status& status) {
    written = status;
    done = true;
  });
  if (!RunLoopUntil(done)) return;
  if (!written.ok()) {
    fatal_ = written.message() + " (the manifest holds every line before this error)";
    return;
  }
  store_.SetOutcome(user, UserStatus::kFailed, store_.format(user));
  lines_.Count(UserStatus::kFailed, error.code());
}

bool SequentialRun::RunLoopUntil(const bool& done) {
  // The sink's requests keep the loop alive until its callback has run (its sync timer does
  // not). A loop that empties first had an exception at a callback entry (fatal_ says which).
  while (!done) {
    if (uv_run(&loop_, UV_RUN_ONCE) == 0 && !done) {
      if (fatal_.empty()) fatal_ = "internal error: a write to the output never ended";
      return false;
    }
  }
  return true;
}

}  // namespace

PipelineResult RunSequential(const Options& options, UserStore& store, Observer& observer,
                             StopRequest* stop) {
  SequentialRun run(options, store, observer, stop);
  return run.Run();
}

}  // namespace pixelmill
