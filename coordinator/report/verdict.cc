#include "coordinator/report/verdict.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/base/string_printf.h"

namespace pixelmill {
namespace {

// The code most failed lines carry, and how many (kOk when none failed).
std::pair<Code, uint64_t> TopFailure(const PipelineResult& run) {
  std::pair<Code, uint64_t> top{Code::kOk, 0};
  for (const auto& [code, count] : run.failed_by_code) {
    if (count > top.second) top = {code, count};
  }
  return top;
}

// What to do about downloads that mostly failed with `code`.
std::string FailureAdvice(Code code) {
  if (code == Code::kBlockedAddress) {
    return "the image URLs resolve to loopback, private or link-local addresses, which are "
           "refused by default: if the image server is meant to be on such a network, pass "
           "--allow-private-networks";
  }
  return "the failing downloads bound the run; check the image server and the URLs (the "
         "manifest's error lines, README Troubleshooting) before tuning";
}

// Mean seconds a job of `w` took from being sent to its result, and of filter CPU.
double RoundTrip(const WorkerFigures& w) {
  return std::chrono::duration<double>(w.round_trips).count() /
         static_cast<double>(w.jobs_ok + w.jobs_failed);
}
double CpuPerJob(const WorkerFigures& w) {
  return static_cast<double>(w.cpu_micros) / 1e6 / static_cast<double>(w.jobs_ok + w.jobs_failed);
}

// A remote worker whose jobs took far longer than the other workers' for the same CPU: its
// link (bandwidth or latency) held them, whatever bound the run as a whole. "" when none.
std::string SlowLink(const PipelineResult& run) {
  std::vector<const WorkerFigures*> judged;
  for (const WorkerFigures& w : run.dispatch.by_worker) {
    if (w.jobs_ok + w.jobs_failed >= kMinJobsPerWorker) judged.push_back(&w);
  }
  if (judged.size() < 2) return "";
  // Round trip beyond the CPU a job needed: network and queueing.
  const auto overhead = [](const WorkerFigures* w) { return RoundTrip(*w) - CpuPerJob(*w); };
  std::sort(judged.begin(), judged.end(), [&](const WorkerFigures* a, const WorkerFigures* b) {
    return overhead(a) < overhead(b);
  });
  const WorkerFigures& worst = *judged.back();
  const double others = overhead(judged[(judged.size() - 1) / 2]);  // the others' median
  if (!worst.remote || overhead(&worst) < kSlowLinkFactor * others ||
      overhead(&worst) - others < kSlowLinkSeconds) {
    return "";
  }
  return StringPrintf(
      "; worker %s on %s took %.3f s a job for %.3f s of CPU, against %.3f s beyond the CPU on "
      "the other workers: a slow link to its host (bandwidth or latency) held its jobs",
      worst.worker.c_str(), worst.host.c_str(), RoundTrip(worst), CpuPerJob(worst), others);
}

}  // namespace

const char* BoundName(Bound bound) {
  switch (bound) {
    case Bound::kNetwork:
      return "network";
    case Bound::kCpu:
      return "cpu";
    case Bound::kWorkers:
      return "workers";
    case Bound::kInconclusive:
      return "inconclusive";
    case Bound::kDisk:
      return "disk";
    case Bound::kMemory:
      return "memory";
    case Bound::kBalanced:
      break;
  }
  return "balanced";
}

double WorkerUtilisation(const PipelineResult& run) {
  if (run.workers == 0 || run.wall_seconds <= 0) return 0;
  const double cpu_seconds = run.filter_cpu_us.Sum() / 1e6;
  return cpu_seconds / (static_cast<double>(run.workers) * run.wall_seconds);
}

Verdict Judge(const PipelineResult& run) {
  Verdict verdict = JudgeStages(run);
  verdict.evidence += SlowLink(run);
  return verdict;
}

Verdict JudgeStages(const PipelineResult& run) {
  const double wall = run.wall_seconds;
  if (wall <= 0 || run.ok + run.failed == 0) {
    return {Bound::kBalanced, "no user was processed in this run: nothing to judge"};
  }
  const uint64_t users = uint64_t{run.ok} + run.failed;
  if (wall < kMinJudgedSeconds || users < kMinJudgedUsers) {
    return {Bound::kInconclusive,
            StringPrintf("the run was too short to judge (%.2f s, %llu user(s) with a line; a "
                         "verdict needs %.0f s and %zu users): start-up dominates it; judge a "
                         "longer run",
                         wall, static_cast<unsigned long long>(users), kMinJudgedSeconds,
                         kMinJudgedUsers)};
  }
  struct Wait {
    Bound bound;
    double seconds;
    const char* what;
    const char* advice;
  };
  // Downstream first: on a tie the stage nearer the disk is the cause, as a blocked stage
  // blocks the ones before it too.
  const Wait waits[] = {
      {Bound::kDisk, run.waits.results_waiting_s, "results waited for the disk",
       "a faster disk (or no --durable)"},
      {Bound::kCpu, run.waits.images_waiting_s, "images waited for a worker",
       "add workers (--workers, or remote workers) or use a cheaper filter"},
      {Bound::kMemory, std::max(run.waits.downloads_waiting_s, run.downloads.budget_wait_seconds),
       "downloads waited for the byte budget", "raise --max-memory"},
  };
  const Wait* longest = &waits[0];
  for (const Wait& w : waits) {
    if (w.seconds > longest->seconds) longest = &w;
  }
  // Results waiting for the disk and images waiting for a worker hold the budget, so downloads
  // then wait for memory about as long (measured apart, either may come out a little longer):
  // a memory wait with such a wait at least half as long is that wait's doing.
  if (longest->bound == Bound::kMemory) {
    const Wait* downstream = waits[0].seconds >= waits[1].seconds ? &waits[0] : &waits[1];
    if (downstream->seconds >= 0.5 * longest->seconds) longest = downstream;
  }
  const double utilisation = WorkerUtilisation(run);
  const std::string busy = run.workers > 0
                               ? StringPrintf("; workers' CPU busy %.0f%% (%zu worker(s))",
                                              utilisation * 100, run.workers)
                               : std::string();
  if (longest->seconds >= kWaitShare * wall) {
    if (longest->bound == Bound::kCpu && run.workers > 0 && utilisation < kBusyShare) {
      // Waiting for workers that are not computing: more of them would mostly wait too.
      return {Bound::kWorkers,
              std::string(longest->what) +
                  StringPrintf(" %.0f%% of the run (%.1f of %.1f s)", longest->seconds / wall * 100,
                               longest->seconds, wall) +
                  busy +
                  ": the workers' time went to something other than computing (starting up, "
                  "moving images, or a filter that waits such as sleep); more workers help a "
                  "filter that waits, a longer run tells start-up apart"};
    }
    return {longest->bound,
            std::string(longest->what) +
                StringPrintf(" %.0f%% of the run (%.1f of %.1f s)", longest->seconds / wall * 100,
                             longest->seconds, wall) +
                busy + ": " + longest->advice};
  }
  const std::string waited = StringPrintf(
      "no stage waited on the next for %.0f%% of the run (images for a worker %.1f s, "
      "results for the disk %.1f s, downloads for memory %.1f s)",
      kWaitShare * 100, waits[1].seconds, waits[0].seconds, waits[2].seconds);
  if (run.workers > 0 && utilisation >= kBusyShare) {
    return {Bound::kBalanced, waited + busy + ": downloads and filters keep pace with each other"};
  }
  if (run.downloads.failed > run.downloads.ok) {
    // Failures, not speed, bound such a run: more concurrency would only fail faster.
    const auto [top, top_count] = TopFailure(run);
    return {
        Bound::kNetwork,
        waited + busy +
            StringPrintf("; %llu of %llu downloads failed (most: %s, %llu)",
                         static_cast<unsigned long long>(run.downloads.failed),
                         static_cast<unsigned long long>(run.downloads.ok + run.downloads.failed),
                         top == Code::kOk ? "?" : std::string(CodeName(top)).c_str(),
                         static_cast<unsigned long long>(top_count)) +
            ": " + FailureAdvice(top)};
  }
  const double slowest_s = static_cast<double>(run.end_to_end_us.Max()) / 1e6;
  if (slowest_s >= kTailShare * wall) {
    // One user's download (hung until its timeout, or retried for long) is the run's length:
    // more downloads at once would not shorten it.
    return {Bound::kNetwork,
            waited + busy +
                StringPrintf("; the slowest user took %.1f s of the %.1f s run (p50 %.0f ms)",
                             slowest_s, wall, run.end_to_end_us.Percentile(0.5) / 1000) +
                ": a few slow or hung URLs bound the run, not the download rate; a lower "
                "--timeout (or --retries) gives up on them sooner"};
  }
  const double p50_ms = run.downloads.latency_us.Percentile(0.5) / 1000;
  return {Bound::kNetwork,
          waited + busy + StringPrintf("; download p50 %.0f ms", p50_ms) +
              ": the downloads bound the run; raise --concurrency (and --per-host) if the "
              "server allows"};
}

}  // namespace pixelmill
