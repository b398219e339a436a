// RunOptionTable(): each RunOptions field that is a `coordinator` flag, once.
#include "coordinator/api/option_table.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <utility>

#include "common/filters/filter.h"

namespace pixelmill {

std::string NumberText(double value, bool integral) {
  if (integral && value >= -9.2e18 && value <= 1.8e19) {
    return value < 0 ? std::to_string(static_cast<int64_t>(value))
                     : std::to_string(static_cast<uint64_t>(value));
  }
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string OptionRange::Text(bool integral) const {
  const std::string from = NumberText(lo, integral);
  if (or_zero) return "0 or >= " + from;
  return hi ? from + ".." + NumberText(*hi, integral) : ">= " + from;
}

std::string RefuseNumber(const std::string& text, const OptionRange& range, bool integral) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return "";
  return range.Contains(value) ? "" : text + " is not " + range.Text(integral);
}

std::string RefuseChoice(const std::string& text, const std::vector<std::string>& choices) {
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == text) return "";
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  }
  return "'" + text + "' is not " + list;
}

namespace {

using Spec = OptionSpec<RunOptions>;
using R = RunOptions;

OptionRange Between(double lo, double hi) { return OptionRange{lo, hi, false}; }
OptionRange AtLeast(double lo) { return OptionRange{lo, std::nullopt, false}; }

std::vector<Spec> MakeTable() {
  constexpr const char* kIo = "Input and output";
  constexpr const char* kFilter = "Filter";
  constexpr const char* kWorkers = "Workers";
  constexpr const char* kDownloads = "Downloads";
  std::vector<Spec> t;
  auto add = [&t](Spec spec) -> Spec& { return t.emplace_back(std::move(spec)); };
  add({"--output", &R::output_dir, kIo, "output folder (images/, manifest.jsonl, rejects.jsonl)"});
  add({"--overwrite", &R::overwrite, kIo,
       "delete the earlier run in --output (manifest, rejects, images) and start afresh"});
  add({"--resume", &R::resume, kIo,
       "continue the earlier run in --output: redo only the users without an intact result "
       "(refused if the input or output settings changed)"});
  add({"--retry-failed", &R::retry_failed, kIo, "with --resume: redo the users that failed too"});
  add({"--resume-anyway", &R::resume_anyway, kIo,
       "--resume even if the input or output settings changed (says what changed)"});
  add({"--dry-run", &R::dry_run, kIo,
       "load and validate the input, print a summary, exit; no network"});
  add({"--max-bad-records", &R::max_bad_records, kIo,
       "bad input records to skip (listed in OUT/rejects.jsonl); 0 aborts on the first",
       AtLeast(0)})
      .show_default = true;
  add({"--report", &R::report_path, kIo, "write a JSON report of the run to this file"});
  add({"--grace", &R::grace_s, kIo,
       "after the first SIGINT, SIGTERM or SIGHUP, seconds for the downloads and filters in "
       "flight to finish and be saved; a second signal stops at once",
       Between(0, 3600)})
      .show_default = true;
  add({"--durable", &R::durable, kIo,
       "fsync every image and the images folder before its manifest line is written (safe "
       "against power loss; slower)"});

  add({"--shard", &R::shard, kIo,
       "take only shard K/N of the input (0 <= K < N; by a stable hash of the id): N runs take "
       "every user once, and `coordinator merge` joins their folders"});
  add({"--id-field", &R::id_field, kIo,
       "where a record keeps its id: a key, or a dotted path into nested objects "
       "(account.uuid); in CSV the column"})
      .show_default = true;
  add({"--name-field", &R::name_field, kIo,
       "where a record keeps its name, as --id-field; '' when records have none"})
      .show_default = true;
  add({"--url-field", &R::url_field, kIo,
       "where a record keeps its image URL, as --id-field (profile.avatar.url)"})
      .show_default = true;
  add({"--fan-out",
       &R::fan_out,
       kIo,
       "images in subfolders images/ab/cd/ by a hash of the id: auto (above 100,000 users), "
       "always, never",
       std::nullopt,
       {"auto", "always", "never"}})
      .show_default = true;

  add({"--filter", &R::filter, kFilter,
       "filter spec: a step or a chain of steps, e.g. blur:5 or thumbnail:256,sharpen:1:\n" +
           FilterHelp()})
      .show_default = true;
  add({"--format",
       &R::format,
       kFilter,
       "output format: jpeg, png, webp, or input (the input's; GIF becomes PNG)",
       std::nullopt,
       {"input", "jpeg", "png", "webp"}})
      .show_default = true;
  add({"--quality", &R::quality, kFilter, "JPEG/WebP quality", Between(1, 100)}).show_default =
      true;
  add({"--keep-metadata", &R::keep_metadata, kFilter,
       "keep EXIF (GPS included), XMP and IPTC metadata (stripped by default)"});
  add({"--max-pixels", &R::max_pixels, kFilter,
       "largest image filtered, in pixels (width x height, all frames), checked from the header "
       "before decoding",
       Between(1, double(uint64_t{1} << 40))})
      .show_default = true;
  add({"--intensity", &R::intensity, kFilter,
       "the filter argument used when the spec gives none (e.g. --filter spin --intensity 200)"});

  Spec& workers = add({"--workers", &R::workers, kWorkers,
                       "local worker processes (default: hardware threads; 0 = remote workers "
                       "only)",
                       Between(0, 256)});
  workers.show_default = true;
  workers.default_text = "hardware threads";
  add({"--bind", &R::bind, kWorkers, "also accept remote workers here, e.g. tcp://127.0.0.1:5555"});
  add({"--insecure", &R::insecure, kWorkers,
       "allow a tcp:// --bind without keys: plain TCP, unencrypted (warned, reported)"});
  add({"--curve-secret", &R::curve_secret, kWorkers,
       "the coordinator's secret certificate (FILE, mode 0600, from pixelmill-keygen): --bind "
       "speaks CurveZMQ"});
  add({"--allow-workers", &R::allow_workers, kWorkers,
       "folder of admitted workers' public certificates (NAME.key), re-read when it changes"});
  add({"--max-attempts", &R::max_attempts, kWorkers,
       "dispatches of one job (worker deaths included) before its user fails", Between(1, 100)})
      .show_default = true;
  add({"--heartbeat-ms", &R::heartbeat_ms, kWorkers,
       "heartbeat interval with workers; 3 missed = dead", Between(50, 60000)})
      .show_default = true;
  add({"--job-timeout", &R::job_timeout_s, kWorkers,
       "seconds a worker may hold one job before it goes to another worker", Between(0.05, 86400)})
      .show_default = true;
  add({"--remote-wait", &R::remote_wait_s, kWorkers,
       "seconds to wait for a remote worker when no worker is connected and none can start "
       "locally; then the waiting users fail with no_workers",
       Between(0, 86400)})
      .show_default = true;
  add({"--worker-memory-mb", &R::worker_memory_mb, kWorkers,
       "address space cap of each local worker in MB (default: 1024 + 12 bytes per pixel of "
       "--max-pixels)",
       OptionRange{double(kMinWorkerAddressSpaceMb), std::nullopt, /*or_zero=*/true}})
      .default_text = "from `--max-pixels`";
  add({"--worker-binary", &R::worker_binary, kWorkers,
       "the worker executable for local workers (default: the one next to the coordinator)"})
      .default_text = "next to `coordinator`";
  add({"--sequential", &R::sequential, kWorkers,
       "one user at a time with the filter in this process, no workers (a baseline for "
       "benchmarks)"});

  add({"--concurrency", &R::concurrency, kDownloads, "downloads in flight at most",
       Between(1, 100000)})
      .show_default = true;
  add({"--per-host", &R::per_host, kDownloads, "connections to one host at most",
       Between(1, 100000)})
      .show_default = true;
  add({"--timeout", &R::timeout_s, kDownloads, "seconds one download attempt may take",
       Between(0.001, 86400)})
      .show_default = true;
  add({"--retries", &R::retries, kDownloads,
       "retries of a download after connect errors, timeouts, 5xx and 429", Between(0, 100)})
      .show_default = true;
  Spec& image_bytes =
      add({"--max-image-bytes", &R::max_image_bytes, kDownloads, "largest image accepted, in bytes",
           Between(1, double(uint64_t{1} << 34))});
  image_bytes.show_default = true;
  image_bytes.default_text = "20 MiB";
  Spec& private_networks =
      add({"--allow-private-networks", &R::allowed_private_networks, kDownloads,
           "allow image URLs on loopback, private and link-local addresses; with CIDR,... only "
           "those ranges (e.g. 127.0.0.1/32,10.1.0.0/16)"});
  private_networks.bare_value = "all";
  private_networks.default_text = "off";
  add({"--proxy", &R::proxy, kDownloads,
       "send every download through this HTTP proxy (proxy environment variables are ignored); "
       "targets are still resolved and checked by pixelmill"});

  add({"--ca-file", &R::ca_file, kDownloads,
       "trust the CA certificates in this PEM file instead of the system's (an API behind a "
       "private CA)"});
  add({"--http-version",
       &R::http_version,
       kDownloads,
       "auto: HTTP/2 over TLS when the server offers it (one connection a host, requests "
       "multiplexed), else HTTP/1.1 keep-alive; 1.1: never HTTP/2; 2: HTTP/2 without asking, "
       "plain http:// too",
       std::nullopt,
       {"auto", "1.1", "2"}})
      .show_default = true;
  add({"--rate", &R::rate, kDownloads,
       "requests a second to one host at most (a token bucket of --burst; retries and redirects "
       "count); a 429 (or a 503 with Retry-After) halves that host's rate for a while; 0: no limit",
       OptionRange{0.001, std::nullopt, /*or_zero=*/true}})
      .default_text = "no limit";
  add({"--burst", &R::burst, kDownloads,
       "with --rate: requests a host may get at once after a quiet spell",
       OptionRange{1, std::nullopt, /*or_zero=*/true}})
      .default_text = "rate / 10, at least 1";
  Spec& header = add({"--header", &R::headers, kDownloads,
                      "a request header, 'Name: value' (repeatable); values are never logged or "
                      "reported; sent only to the hosts of the input's URLs"});
  header.repeatable = true;
  add({"--headers-file", &R::headers_file, kDownloads,
       "request headers from a file, 'Name: value' a line (# comments): keeps tokens out of argv"});
  add({"--user-agent", &R::user_agent, kDownloads, "the User-Agent header"}).default_text =
      "pixelmill/VERSION";

  add({"--dedupe",
       &R::dedupe,
       kDownloads,
       "download and filter each distinct image once: url (users whose image URLs are the same "
       "share one), content (also identical bytes under different URLs share the filter), off",
       std::nullopt,
       {"url", "content", "off"}})
      .show_default = true;

  Spec& memory = add({"--max-memory", &R::max_memory, "Memory",
                      "image bytes held at once (downloading, waiting, filtered), e.g. 512M, 2G "
                      "or 1.5G (K, M, G: 1024-based); downloads wait or pause at the limit",
                      AtLeast(1)});
  memory.default_text = "512M";
  memory.show_default = true;
  memory.byte_size = true;

  // The fields not named like their flag.
  constexpr std::pair<std::string_view, const char*> kRenamed[] = {
      {"--output", "output_dir"},
      {"--report", "report_path"},
      {"--grace", "grace_s"},
      {"--job-timeout", "job_timeout_s"},
      {"--remote-wait", "remote_wait_s"},
      {"--timeout", "timeout_s"},
      {"--allow-private-networks", "allowed_private_networks"},
      {"--header", "headers"}};
  for (Spec& spec : t) {
    for (const auto& [flag, name] : kRenamed) {
      if (spec.flag == flag) spec.field_name = name;
    }
  }
  return t;
}

bool FlagByte(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

const std::vector<OptionSpec<RunOptions>>& RunOptionTable() {
  static const std::vector<OptionSpec<RunOptions>> table = MakeTable();
  return table;
}

std::string InApiTerms(std::string_view message) {
  std::string out;
  size_t from = 0;
  for (size_t at = message.find("--"); at != std::string_view::npos;
       at = message.find("--", at + 2)) {
    if (at < from || (at > 0 && FlagByte(message[at - 1]))) continue;
    size_t end = at + 2;
    while (end < message.size() && FlagByte(message[end])) ++end;
    const std::string_view flag = message.substr(at, end - at);
    for (const OptionSpec<RunOptions>& spec : RunOptionTable()) {
      if (flag != spec.flag) continue;
      std::string name = spec.field_name != nullptr ? spec.field_name : std::string(flag.substr(2));
      std::replace(name.begin(), name.end(), '-', '_');
      out.append(message.substr(from, at - from));
      out += name + " (" + std::string(flag) + ")";
      from = end;
      break;
    }
  }
  out.append(message.substr(from));
  return out;
}

}  // namespace pixelmill
