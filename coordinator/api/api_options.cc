// RunOptions -> Options: the option table's checks (option_table.h), then the rules between
// options, then the fields the engine reads derived from them.
#include <curl/curl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/filters/filter.h"
#include "coordinator/api/api_parts.h"
#include "coordinator/api/option_table.h"
#include "coordinator/api/worker_binary.h"
#include "coordinator/download/request_headers.h"
#include "coordinator/download/url_policy.h"

namespace pixelmill {
namespace {

Status Usage(const std::string& message) { return Status::Error(Code::kUsage, message); }

// --resume-anyway implies --resume; --retry-failed needs it; --overwrite contradicts it.
Status CheckOutput(Options& out) {
  if (out.output_dir.empty() && !out.dry_run) {
    return Usage("--output is required (or use --dry-run)");
  }
  out.resume = out.resume || out.resume_anyway;
  if (out.resume && out.overwrite) {
    return Usage(
        "--resume (continue the earlier run) and --overwrite (delete it) cannot go together");
  }
  if (out.retry_failed && !out.resume) return Usage("--retry-failed needs --resume");
  Result<Shard> shard = ParseShard(out.shard);
  if (!shard.ok()) return shard.status();
  out.input_shard = shard.value();
  out.record_fields = RecordFields{out.id_field, out.name_field, out.url_field};
  if (std::string problem = RecordFieldsProblem(out.record_fields); !problem.empty()) {
    return Usage(problem);
  }
  return Status::Ok();
}

Status CheckFilter(Options& out) {
  // Refused even when no step uses it: a NaN would otherwise pass every range check.
  if (out.intensity && !std::isfinite(*out.intensity)) {
    return Usage("--intensity: " + std::to_string(*out.intensity) + " is not a finite number");
  }
  Result<FilterSpec> spec = ParseFilterSpec(out.filter, out.intensity);
  if (!spec.ok()) return Usage("--filter: " + spec.status().message());
  out.filter_spec = spec.value();
  if (out.format == "jpeg") {
    out.filter_output.format = OutputFormat::kJpeg;
  } else if (out.format == "png") {
    out.filter_output.format = OutputFormat::kPng;
  } else if (out.format == "webp") {
    out.filter_output.format = OutputFormat::kWebp;
  }
  out.filter_output.quality = out.quality;
  out.filter_output.keep_metadata = out.keep_metadata;
  out.filter_output.max_pixels = out.max_pixels;
  return Status::Ok();
}

// Workers: how many, where remote ones connect, and the executable of local ones.
Status CheckWorkers(Options& out) {
  // Silently ignored, a --bind would leave the user waiting for remote workers to help.
  if (!out.bind.empty() && !out.dry_run && (out.filter_spec.IsNone() || out.sequential)) {
    return Usage("--bind " + out.bind + " accepts remote workers, but " +
                 (out.sequential ? "--sequential" : "--filter none") +
                 " runs no worker: drop --bind, or choose a filter (--filter SPEC)");
  }
  if (out.filter_spec.IsNone() || out.dry_run || out.sequential) return Status::Ok();
  if (out.workers == 0 && out.bind.empty()) {
    return Usage("--workers 0 needs --bind (remote workers only)");
  }
  const bool curve = !out.curve_secret.empty() || !out.allow_workers.empty();
  if (curve && (out.curve_secret.empty() || out.allow_workers.empty())) {
    return Usage(
        "CurveZMQ needs both --curve-secret FILE (the coordinator's secret "
        "certificate) and --allow-workers DIR (the admitted workers' certificates)");
  }
  if (curve && out.bind.empty()) {
    return Usage("--curve-secret and --allow-workers secure --bind: add --bind tcp://ADDR:PORT");
  }
  if (curve && out.insecure) {
    return Usage("--insecure and --curve-secret contradict each other: drop one");
  }
  if (curve && out.bind.rfind("tcp://", 0) != 0) {
    return Usage("--bind " + out.bind + ": CurveZMQ is for tcp:// endpoints");
  }
  // Loopback too: any local user's process could join, take users' images and return forged
  // ones. An ipc:// endpoint is filtered by user id instead.
  if (out.bind.rfind("tcp://", 0) == 0 && !out.insecure && !curve) {
    return Usage("--bind " + out.bind +
                 " would take workers in the clear (any process that reaches the port could "
                 "join, loopback included); give keys (--curve-secret FILE --allow-workers DIR, "
                 "made by pixelmill-keygen), or pass --insecure to accept plain TCP");
  }
  if (out.workers == 0) return Status::Ok();
  if (out.worker_binary.empty()) out.worker_binary = FindWorkerBinary(WorkerSearch::kBesideLibrary);
  if (out.worker_binary.empty()) {
    return Status::Error(Code::kIo, "cannot find the worker executable (" + WorkerSearchText() +
                                        "); pass --worker-binary PATH");
  }
  if (::access(out.worker_binary.c_str(), X_OK) != 0) {
    return Status::Error(Code::kIo, "worker binary " + out.worker_binary +
                                        " is not executable: " + std::strerror(errno));
  }
  return Status::Ok();
}

Status DeriveDownloads(Options& out) {
  DownloadOptions& dl = out.download;
  const std::string& ranges = out.allowed_private_networks;
  if (ranges == "all") {
    out.allow_private_networks = true;
  } else if (!ranges.empty()) {
    if (out.allow_private_networks) {
      return Usage("allow_private_networks (every private range) and --allow-private-networks " +
                   ranges + " (only those) contradict each other: drop one");
    }
    Result<std::vector<AddressRange>> parsed = ParseAddressRanges(ranges);
    if (!parsed.ok()) return parsed.status();
    dl.allowed_private = std::move(parsed).value();
  }
  dl.concurrency = out.concurrency;
  dl.per_host = out.per_host;
  dl.timeout_ms = static_cast<uint64_t>(out.timeout_s * 1000);
  dl.retry.retries = out.retries;
  dl.max_image_bytes = out.max_image_bytes;
  dl.allow_private_networks = out.allow_private_networks;
  dl.proxy = out.proxy;
  dl.ca_file = out.ca_file;
  if (!dl.ca_file.empty() && ::access(dl.ca_file.c_str(), R_OK) != 0) {
    return Usage("--ca-file " + dl.ca_file + ": " + std::strerror(errno));
  }
  dl.http_version = out.http_version;
  const bool has_http2 = (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2) != 0;
  if (dl.http_version == "2" && !has_http2) {
    return Usage("--http-version 2: this libcurl was built without HTTP/2");
  }
  dl.health.rate = out.rate;
  dl.health.burst = out.burst;
  if (out.burst > 0 && out.rate == 0) return Usage("--burst needs --rate");
  dl.headers.clear();
  for (size_t i = 0; i < out.headers.size(); ++i) {
    Result<std::string> header = CheckHeader(out.headers[i], "--header " + std::to_string(i + 1));
    if (!header.ok()) return header.status();
    dl.headers.push_back(std::move(header).value());
  }
  if (!out.headers_file.empty()) {
    Result<std::vector<std::string>> file = ReadHeadersFile(out.headers_file);
    if (!file.ok()) return file.status();
    for (std::string& header : file.value()) dl.headers.push_back(std::move(header));
  }
  if (out.user_agent.find_first_of("\r\n") != std::string::npos) {
    return Usage("--user-agent has a line break");
  }
  dl.user_agent = out.user_agent;
  return Status::Ok();
}

}  // namespace

Result<Options> ToOptions(const RunOptions& in) {
  if (Status s = CheckAgainst(RunOptionTable(), in); !s.ok()) return s;
  Options out;
  static_cast<RunOptions&>(out) = in;
  for (Status (*check)(Options&) : {&CheckOutput, &CheckFilter, &CheckWorkers, &DeriveDownloads}) {
    if (Status s = check(out); !s.ok()) return s;
  }
  return out;
}

}  // namespace pixelmill
