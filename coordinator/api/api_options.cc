// RunOptions -> Options: every check the `coordinator` command's flags get, in one place (the
// command is a client of the API), and the default worker executable of an installation.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "common/filters/filter.h"
#include "coordinator/api/api_parts.h"

#if !defined(PIXELMILL_INSTALLED_WORKER) || !defined(PIXELMILL_LIB_TO_BIN)
#error "the build defines PIXELMILL_INSTALLED_WORKER and PIXELMILL_LIB_TO_BIN"
#endif

namespace pixelmill {
namespace {

// The `worker` of this installation: <prefix>/bin/worker of the prefix this library sits in
// (so a relocated install works), else the path baked in at build time; "" if neither runs.
std::string DefaultWorkerBinary() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&DefaultWorkerBinary), &info) != 0 &&
      info.dli_fname != nullptr) {
    std::error_code ec;
    const std::filesystem::path lib = std::filesystem::canonical(info.dli_fname, ec);
    if (!ec) {
      const std::filesystem::path candidate =
          (lib.parent_path() / PIXELMILL_LIB_TO_BIN / "worker").lexically_normal();
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  if (::access(PIXELMILL_INSTALLED_WORKER, X_OK) == 0) return PIXELMILL_INSTALLED_WORKER;
  return {};
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  for (const char* prefix : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://"}) {
    if (endpoint.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

Status Usage(const std::string& message) { return Status::Error(Code::kUsage, message); }

// --resume-anyway implies --resume; --retry-failed needs it; --overwrite contradicts it.
Status CheckOutput(const RunOptions& in, Options& out) {
  if (in.output_dir.empty() && !in.dry_run) {
    return Usage("--output is required (or use --dry-run)");
  }
  out.output = in.output_dir;
  out.dry_run = in.dry_run;
  out.overwrite = in.overwrite;
  out.resume = in.resume || in.resume_anyway;
  out.resume_anyway = in.resume_anyway;
  out.retry_failed = in.retry_failed;
  if (out.resume && out.overwrite) {
    return Usage(
        "--resume (continue the earlier run) and --overwrite (delete it) cannot go together");
  }
  if (out.retry_failed && !out.resume) return Usage("--retry-failed needs --resume");
  if (!(in.grace_s >= 0)) return Usage("--grace must be at least 0");
  out.max_bad_records = in.max_bad_records;
  out.report = in.report_path;
  out.grace_ms = static_cast<uint64_t>(in.grace_s * 1000);
  out.durable = in.durable;
  out.command_line = in.command_line;
  return Status::Ok();
}

Status CheckFilter(const RunOptions& in, Options& out) {
  // Refused even when no step uses it: a NaN would otherwise pass every range check.
  if (in.intensity && !std::isfinite(*in.intensity)) {
    return Usage("--intensity: " + std::to_string(*in.intensity) + " is not a finite number");
  }
  Result<FilterSpec> spec = ParseFilterSpec(in.filter, in.intensity);
  if (!spec.ok()) return Usage("--filter: " + spec.status().message());
  out.filter = in.filter;
  out.intensity = in.intensity;
  out.filter_spec = spec.value();
  if (in.format == "jpeg") {
    out.filter_output.format = OutputFormat::kJpeg;
  } else if (in.format == "png") {
    out.filter_output.format = OutputFormat::kPng;
  } else if (in.format == "webp") {
    out.filter_output.format = OutputFormat::kWebp;
  } else if (in.format != "input") {
    return Usage("--format: '" + in.format + "' is not input, jpeg, png or webp");
  }
  if (in.quality < 1 || in.quality > 100) {
    return Usage("--quality: " + std::to_string(in.quality) + " is not 1..100");
  }
  if (in.max_pixels == 0) return Usage("--max-pixels must be above 0");
  out.filter_output.quality = in.quality;
  out.filter_output.keep_metadata = in.keep_metadata;
  out.filter_output.max_pixels = in.max_pixels;
  out.sequential = in.sequential;
  return Status::Ok();
}

// Workers: how many, where remote ones connect, and the executable of local ones.
Status CheckWorkers(const RunOptions& in, Options& out) {
  out.workers = in.workers > 0 || !in.bind.empty()
                    ? in.workers
                    : std::max(1u, std::thread::hardware_concurrency());
  out.bind = in.bind;
  out.insecure = in.insecure;
  if (in.max_attempts == 0) return Usage("--max-attempts must be at least 1");
  if (in.heartbeat_ms < 50) return Usage("--heartbeat-ms must be at least 50");
  if (!(in.job_timeout_s > 0) || !(in.remote_wait_s >= 0)) {
    return Usage("--job-timeout must be above 0 and --remote-wait at least 0");
  }
  out.max_attempts = in.max_attempts;
  out.heartbeat_ms = in.heartbeat_ms;
  out.job_timeout_ms = static_cast<uint64_t>(in.job_timeout_s * 1000);
  out.remote_wait_ms = static_cast<uint64_t>(in.remote_wait_s * 1000);
  if (in.worker_memory_mb != 0 && in.worker_memory_mb < kMinWorkerAddressSpaceMb) {
    return Usage("--worker-memory-mb " + std::to_string(in.worker_memory_mb) +
                 " is below the minimum of " + std::to_string(kMinWorkerAddressSpaceMb) +
                 " a worker needs to start and filter");
  }
  out.worker_memory_mb = in.worker_memory_mb;
  // Silently ignored, a --bind would leave the user waiting for remote workers to help.
  if (!out.bind.empty() && !out.dry_run && (out.filter_spec.IsNone() || out.sequential)) {
    return Usage("--bind " + out.bind + " accepts remote workers, but " +
                 (out.sequential ? "--sequential" : "--filter none") +
                 " runs no worker: drop --bind, or choose a filter (--filter SPEC)");
  }
  if (out.filter_spec.IsNone() || out.dry_run || out.sequential) return Status::Ok();
  if (!out.bind.empty() && !IsLoopbackEndpoint(out.bind) && !out.insecure) {
    return Usage("--bind " + out.bind +
                 " is not a loopback address: remote workers would talk in the clear; pass "
                 "--insecure to accept that (keys arrive with the secure-workers issue)");
  }
  if (out.workers == 0) return Status::Ok();
  // Never a PATH search: any executable named "worker" earlier on PATH would be run.
  out.worker_binary = in.worker_binary.empty() ? DefaultWorkerBinary() : in.worker_binary;
  if (out.worker_binary.empty()) {
    return Status::Error(Code::kIo,
                         "cannot find the worker executable (looked beside the library "
                         "and at " PIXELMILL_INSTALLED_WORKER "); pass --worker-binary PATH");
  }
  if (::access(out.worker_binary.c_str(), X_OK) != 0) {
    return Status::Error(Code::kIo, "worker binary " + out.worker_binary +
                                        " is not executable: " + std::strerror(errno));
  }
  return Status::Ok();
}

Status CheckDownloads(const RunOptions& in, Options& out) {
  if (in.concurrency == 0 || in.per_host == 0 || in.max_image_bytes == 0 || in.max_memory == 0 ||
      !(in.timeout_s > 0)) {
    return Usage(
        "--concurrency, --per-host, --max-image-bytes, --max-memory and --timeout must be above "
        "0");
  }
  DownloadOptions& dl = out.download;
  dl.concurrency = in.concurrency;
  dl.per_host = in.per_host;
  dl.timeout_ms = static_cast<uint64_t>(in.timeout_s * 1000);
  dl.retry.retries = in.retries;
  dl.max_image_bytes = in.max_image_bytes;
  dl.allow_private_networks = in.allow_private_networks;
  dl.proxy = in.proxy;
  out.max_memory = in.max_memory;
  return Status::Ok();
}

}  // namespace

Result<Options> ToOptions(const RunOptions& in) {
  Options out;
  for (Status (*check)(const RunOptions&, Options&) :
       {&CheckOutput, &CheckFilter, &CheckWorkers, &CheckDownloads}) {
    if (Status s = check(in, out); !s.ok()) return s;
  }
  return out;
}

}  // namespace pixelmill
