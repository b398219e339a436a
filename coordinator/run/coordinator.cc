#include "coordinator/run/coordinator.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/engine/input_stage.h"
#include "coordinator/engine/pipeline.h"
#include "coordinator/engine/run_state.h"
#include "coordinator/engine/sequential.h"
#include "coordinator/events/event.h"
#include "coordinator/events/iso_time.h"
#include "coordinator/input/user_store.h"
#include "coordinator/output/manifest_replay.h"
#include "coordinator/output/output_dir.h"
#include "coordinator/output/output_layout.h"
#include "coordinator/report/report.h"
#include "coordinator/workers/bind_check.h"

namespace pixelmill {
namespace {

// This process's peak resident set so far, in bytes (Linux counts ru_maxrss in KiB); 0 if
// unknown. Children (workers) are not included.
uint64_t PeakRssBytes() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0 || usage.ru_maxrss < 0) return 0;
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

int Fatal(Observer& observer, const Status& status) {
  observer.OnEvent(LogLevel::kError, status.message());
  return kExitFatal;
}

OutputMode ModeOf(const Options& options) {
  if (options.resume) return OutputMode::kResume;
  return options.overwrite ? OutputMode::kOverwrite : OutputMode::kFresh;
}

// True when the folder's manifest holds at least one byte.
bool HasManifest(const std::string& out_dir) {
  struct stat st;
  return ::lstat(OutputLayout(out_dir).manifest().c_str(), &st) == 0 && st.st_size > 0;
}

// What stands in the way of resuming the earlier run in `out_dir`, `recorded` there, with
// `current`, one phrase each; empty when it is the same run.
Result<std::vector<std::string>> ResumeObstacles(const std::string& out_dir,
                                                 const Result<RunState>& recorded,
                                                 const RunState& current) {
  if (recorded.ok()) return DescribeChanges(recorded.value(), current);
  if (recorded.status().code() == Code::kIo) return recorded.status();
  // A run stopped while loading its input has written no line yet: nothing to lose.
  if (recorded.status().code() == Code::kMissing && !HasManifest(out_dir)) {
    return std::vector<std::string>();
  }
  return std::vector<std::string>{recorded.status().message() +
                                  ", so the earlier run's input cannot be checked"};
}

// Refuses (false) to resume a run that differs from the current one, unless told to go on.
bool MayResume(const Options& options, const std::string& out_dir, const Result<RunState>& recorded,
               const RunState& current, Observer& observer) {
  Result<std::vector<std::string>> obstacles = ResumeObstacles(out_dir, recorded, current);
  if (!obstacles.ok()) {
    Fatal(observer, obstacles.status());
    return false;
  }
  if (obstacles->empty()) return true;
  std::string message = options.resume_anyway
                            ? "resuming anyway (--resume-anyway), although:"
                            : "cannot resume the run in " + out_dir + ": it differs from this one:";
  for (const std::string& obstacle : obstacles.value()) message += "\n  - " + obstacle;
  if (options.resume_anyway) {
    observer.OnEvent(LogLevel::kWarning, message);
    return true;
  }
  observer.OnEvent(LogLevel::kError,
                   message +
                       "\npass --resume-anyway to continue it with this input and these "
                       "settings, or --overwrite to start afresh");
  return false;
}

void PrintReplay(const ReplayStats& r, size_t users, Observer& observer) {
  if (r.torn_cut > 0) {
    Emit(observer, LogLevel::kWarning,
         "resume: cut a torn end off manifest.jsonl (%llu line(s), %llu bytes)",
         static_cast<unsigned long long>(r.torn_cut),
         static_cast<unsigned long long>(r.torn_bytes));
  }
  const uint64_t pending = users - r.skipped - r.failed_kept;
  const std::string unknown = r.unknown_ids > 0 ? "; " + std::to_string(r.unknown_ids) +
                                                      " line(s) of ids not in the input will go"
                                                : "";
  Emit(observer, LogLevel::kInfo,
       "resume: %llu line(s) in manifest.jsonl: %llu ok kept, %llu failed kept, %llu "
       "user(s) to do (%llu redone)%s",
       static_cast<unsigned long long>(r.lines), static_cast<unsigned long long>(r.skipped),
       static_cast<unsigned long long>(r.failed_kept), static_cast<unsigned long long>(pending),
       static_cast<unsigned long long>(r.redo), unknown.c_str());
}

// "done: 120 users, 118 ok, 2 failed in 3.52 s (120 requests, 4 retries)", with the skipped
// users of a resumed run, and "; interrupted, N left" when a stop request ended it.
Event DoneEvent(size_t users, const PipelineResult& run, const ReplayStats& replay, bool resuming) {
  EventBuilder done(LogLevel::kInfo, "done");
  done.Text("done: ").Field("users", users).Text(" users, ");
  done.Field("ok", uint64_t{run.ok} + replay.skipped).Text(" ok");
  if (resuming) done.Text(" (").Field("skipped", replay.skipped).Text(" skipped)");
  done.Text(", ").Field("failed", uint64_t{run.failed} + replay.failed_kept).Text(" failed in ");
  done.Field("wall_s", run.wall_seconds, "%.2f").Text(" s (");
  done.Field("requests", run.downloads.requests).Text(" requests, ");
  done.Field("retries", run.downloads.retries).Text(" retries)");
  if (run.interrupted) done.Text("; interrupted, ").Field("left", run.left).Text(" left");
  return done.Hidden("interrupted", run.interrupted).Done();
}

// The state this run records in run.json: RunStateFor's, with its shard, its users and its
// images' layout; resuming, the earlier run's start and, under --fan-out auto, its layout.
// nullopt when the earlier run may not be resumed (said why).
std::optional<RunState> PrepareState(const Options& options, const OutputDir& output,
                                     const LoadedUsers& users, Observer& observer) {
  RunState state = RunStateFor(options, users.identity);
  state.shard = options.input_shard;
  state.users = users.store.size();
  state.input_records = users.stats.users + users.stats.bad_records + users.stats.other_shards;
  state.fan_out = options.fan_out == "always" ||
                  (options.fan_out == "auto" && state.users > OutputLayout::kFanOutAbove);
  state.started_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  if (!output.resuming()) return state;
  const Result<RunState> recorded = ReadRunState(options.output_dir);
  if (recorded.ok()) {
    // Never forced: resuming would drop the other shard's lines as ids not in the input.
    if (std::string why = ShardMismatch(recorded->shard, state.shard); !why.empty()) {
      Fatal(observer, Status::Error(Code::kBadState,
                                    "cannot resume the run in " + options.output_dir + ": " + why));
      return std::nullopt;
    }
    if (recorded->started_ns > 0) state.started_ns = recorded->started_ns;
    if (options.fan_out == "auto") state.fan_out = recorded->fan_out;
  }
  if (!MayResume(options, options.output_dir, recorded, state, observer)) return std::nullopt;
  return state;
}

// Makes the manifest one line per user (when `lines` says it is not) and marks the run
// complete in run.json.
Status Conclude(const std::string& out_dir, const UserStore& store, uint64_t lines,
                const RunState& state) {
  if (lines != store.size()) {
    if (Status s = CompactManifest(out_dir, store); !s.ok()) return s;
  }
  return MarkRunComplete(out_dir, state);
}

// What can refuse the run before its output folder is claimed: the --report path and --bind.
// The exit code when refused (said why), else kExitOk; `report` gets the report's path, links
// resolved.
int Preflight(const Options& options, std::string& report, Observer& observer) {
  if (!options.report_path.empty()) {
    Result<std::string> checked =
        CheckSideFile("--report", options.report_path, options.output_dir, /*regular_only=*/true);
    if (!checked.ok()) {
      Fatal(observer, checked.status());
      return checked.status().code() == Code::kUsage ? kExitUsage : kExitFatal;
    }
    report = checked.value();
  }
  const bool workers = !options.filter_spec.IsNone() && !options.sequential;
  if (workers && !options.bind.empty()) {
    if (Status s = CheckBindable(options.bind); !s.ok()) return Fatal(observer, s);
    if (!options.curve_secret.empty()) {
      Status keys = CheckWorkerKeys(options.curve_secret, options.allow_workers);
      if (!keys.ok()) {
        Fatal(observer, keys);
        return keys.code() == Code::kUsage ? kExitUsage : kExitFatal;
      }
    }
  }
  return kExitOk;
}

// Claims options.output_dir (locked until the run is over) without changing anything in it yet;
// nullopt when it cannot be (said why).
std::optional<OutputDir> ClaimOutput(const Options& options, Observer& observer) {
  Result<OutputDir> claimed = OutputDir::Claim(options.output_dir, ModeOf(options));
  if (!claimed.ok()) {
    Fatal(observer, claimed.status());
    return std::nullopt;
  }
  return std::move(claimed).value();
}

// Everything that could refuse the run has passed: the earlier run is deleted (--overwrite),
// images/ made, the rejects named. False when that fails (said why).
bool BeginOutput(const Options& options, OutputDir& output, Rejects* rejects, Observer& observer) {
  if (Status s = output.Begin(); !s.ok()) return Fatal(observer, s), false;
  if (rejects != nullptr) {
    if (Status s = rejects->Publish(); !s.ok()) return Fatal(observer, s), false;
  }
  if (options.resume && !output.resuming()) {
    observer.OnEvent(LogLevel::kInfo,
                     options.output_dir + " holds no earlier run to resume; starting afresh");
  }
  return true;
}

// The run from its loaded users on: replays the manifest when resuming, runs the pipeline,
// concludes the manifest, writes the report and the summary.
RunOutcome RunLoaded(const Options& given, const OutputDir& output, const RunState& state,
                     UserStore& store, const LoadStats& stats, const std::string& report,
                     Observer& observer, StopRequest* stop) {
  Options options = given;
  options.fan_out_images = state.fan_out;
  const ReportContext context{IsoUtcTime(std::chrono::system_clock::now()), options.command_line,
                              &options};
  ReplayStats replay;
  if (output.resuming()) {
    Result<ReplayStats> replayed =
        ReplayManifest(options.output_dir, store, options.retry_failed, options.fan_out_images);
    if (!replayed.ok()) return {Fatal(observer, replayed.status())};
    replay = replayed.value();
    PrintReplay(replay, store.size(), observer);
  }
  PipelineResult run;
  bool ran = false;  // the pipeline ran (not "nothing to resume")
  if (output.resuming() && replay.skipped + replay.failed_kept == store.size()) {
    Emit(observer, LogLevel::kInfo,
         "nothing to resume: every user already has its line (%llu ok, %llu failed)",
         static_cast<unsigned long long>(replay.skipped),
         static_cast<unsigned long long>(replay.failed_kept));
    if (Status s = Conclude(options.output_dir, store, replay.lines, state); !s.ok()) {
      return {Fatal(observer, s), replay.skipped, replay.failed_kept, true};
    }
    run.output_opened = true;
    run.exit_code = kExitOk;
  } else {
    if (Status s = WriteRunState(options.output_dir, state); !s.ok()) {
      return {Fatal(observer, s), replay.skipped, replay.failed_kept, true};
    }
    if (options.sequential) {
      run = RunSequential(options, store, observer, stop);
    } else {
      Pipeline pipeline(options, store, observer, stop);
      run = pipeline.Run();
    }
    ran = true;
    if (!run.output_opened) {  // the output folder could not be opened: said why
      return {kExitFatal, replay.skipped, replay.failed_kept, true};
    }
    if (run.exit_code != kExitFatal) {
      // A redone user's earlier line is still there, before its new one.
      if (Status s = Conclude(options.output_dir, store, replay.lines + run.ok + run.failed, state);
          !s.ok()) {
        run.exit_code = Fatal(observer, s);
      }
    }
  }
  if (run.exit_code == kExitOk && replay.failed_kept > 0) run.exit_code = kExitSomeFailed;
  // Measured once everything is closed: the high-water mark of the whole run, loading included.
  run.peak_rss_bytes = PeakRssBytes();
  // The report first: if stderr is gone (a closed pipe), the summary line is what is lost.
  int exit_code = run.exit_code;
  std::string report_json = BuildReport(stats, run, replay, context);
  if (!report.empty()) {
    std::error_code ignored;  // checked at the start; WriteReportJson says what is wrong
    std::filesystem::create_directories(std::filesystem::path(report).parent_path(), ignored);
    if (Status s = WriteReportJson(report, report_json); !s.ok()) {
      exit_code = Fatal(observer, s);
    }
  }
  // The table (when the pipeline ran), then the one-line summary scripts read.
  observer.OnSummaryEvent(ran ? SummaryTable(run, replay) : std::string(),
                          DoneEvent(store.size(), run, replay, output.resuming()));
  return {exit_code, run.ok + replay.skipped, run.failed + replay.failed_kept, true,
          std::move(report_json)};
}

// --dry-run: loads and checks the input; with --output, the skipped records are written to
// OUT/rejects.jsonl (nothing else is).
RunOutcome DryRun(const Options& options, LoadedUsers& users, Observer& observer,
                  const StopRequest* stop) {
  std::string rejects_path;
  if (!options.output_dir.empty() && options.max_bad_records > 0) {
    std::error_code ec;
    std::filesystem::create_directories(options.output_dir, ec);
    if (ec) {
      return {
          Fatal(observer, Status::Error(Code::kIo, "cannot create output folder " +
                                                       options.output_dir + ": " + ec.message()))};
    }
    rejects_path = (std::filesystem::path(options.output_dir) / OutputLayout::kRejects).string();
  }
  Rejects rejects(rejects_path);
  Result<LoadStats> stats = LoadInput(options, users.store, rejects, observer, stop);
  if (!stats.ok()) return {Fatal(observer, stats.status())};
  users.stats = stats.value();
  if (Status s = rejects.Publish(); !s.ok()) return {Fatal(observer, s)};
  return {kExitOk};
}

}  // namespace

RunOutcome RunCoordinator(const Options& options, LoadedUsers& users, Observer& observer,
                          StopRequest* stop) {
  if (options.dry_run) return DryRun(options, users, observer, stop);
  std::string report;
  if (const int refused = Preflight(options, report, observer); refused != kExitOk) {
    return {refused};
  }
  // A missing or unreadable input is found before the folder is claimed.
  Result<InputIdentity> identity = IdentifyInput(options.input);
  if (!identity.ok()) return {Fatal(observer, identity.status())};
  std::optional<OutputDir> output = ClaimOutput(options, observer);
  if (!output) return {};
  Rejects rejects((std::filesystem::path(options.output_dir) / OutputLayout::kRejects).string());
  Result<LoadStats> stats = LoadInput(options, users.store, rejects, observer, stop);
  if (!stats.ok()) return {Fatal(observer, stats.status())};
  users.stats = stats.value();
  users.identity = identity->is_stdin() ? IdentifyUsers(users.store, "-") : identity.value();
  const std::optional<RunState> state = PrepareState(options, *output, users, observer);
  if (!state) return {};
  if (!BeginOutput(options, *output, &rejects, observer)) return {};
  return RunLoaded(options, *output, *state, users.store, users.stats, report, observer, stop);
}

RunOutcome RunLoadedUsers(const Options& options, LoadedUsers& users, Observer& observer,
                          StopRequest* stop) {
  std::string report;
  if (const int refused = Preflight(options, report, observer); refused != kExitOk) {
    return {refused};
  }
  std::optional<OutputDir> output = ClaimOutput(options, observer);
  if (!output) return {};
  const std::optional<RunState> state = PrepareState(options, *output, users, observer);
  if (!state) return {};
  if (!BeginOutput(options, *output, nullptr, observer)) return {};
  return RunLoaded(options, *output, *state, users.store, users.stats, report, observer, stop);
}

}  // namespace pixelmill
