// pixelmill's C++ API: the coordinator as a library. A Runner takes users (a vector, a JSON
// array or JSONL file, or a stream of either), downloads each user's image, filters it in
// `worker` processes and saves it under RunOptions::output_dir exactly as the `coordinator`
// command does (images/, manifest.jsonl, run.json; see the README), then returns one record
// per user in input order, read back from the run's manifest.
//
// This header is the whole public surface of libpixelmill: it names no type of libuv, libcurl,
// ZeroMQ, simdjson, protobuf or of pixelmill's internals. A Runner runs one run at a time, on
// the thread that calls Run(); Cancel() may be called from any thread or a signal handler.
// Observer callbacks run on that same thread while Run() is under way. Unlike the
// `coordinator` command, the library installs no signal handler and leaves the process's
// limits and locale alone (the host may want to ignore SIGPIPE and raise RLIMIT_NOFILE for
// thousands of connections).
//
//   pixelmill::RunOptions options;
//   options.output_dir = "out";
//   options.filter = "thumbnail:256";
//   pixelmill::Runner runner(options);
//   pixelmill::RunSummary summary = runner.Run({{1, "Ada", "https://img.example/1.jpg"}});
//   for (const pixelmill::UserResult& r : summary.results) ...
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#define PIXELMILL_API __attribute__((visibility("default")))

namespace pixelmill {

// Exit codes of the `coordinator` command, and RunSummary::exit_code.
inline constexpr int kExitOk = 0;          // every user ok
inline constexpr int kExitFatal = 1;       // fatal error, bad input, or cancelled
inline constexpr int kExitUsage = 2;       // bad options
inline constexpr int kExitSomeFailed = 3;  // finished, some users failed

// What a run is told; each field is the `coordinator` flag of the same meaning (README,
// "Command line"), with the same default and the same accepted values: both are declared and
// checked from one option table, so a value the command line refuses, Run() refuses with the
// same message (exit code 2), e.g. "--heartbeat-ms: 10 is not 50..60000". The `coordinator`
// command is itself a client of this API: it turns its flags into these fields and nothing
// more.
struct RunOptions {
  // --- Input and output ---
  // Output folder (--output): images/, manifest.jsonl, run.json (and rejects.jsonl for a file
  // input). Required unless dry_run.
  std::string output_dir;
  // Delete an earlier run in output_dir and start afresh (--overwrite); without it, and without
  // resume, a folder holding an earlier run is refused.
  bool overwrite = false;
  // Continue the earlier run in output_dir (--resume): users with an intact result are kept.
  bool resume = false;
  // With resume: redo the users whose last line failed too (--retry-failed).
  bool retry_failed = false;
  // Resume even if the input or output settings changed, saying what changed
  // (--resume-anyway; implies resume).
  bool resume_anyway = false;
  // Load and validate the input only (--dry-run): RunSummary::input says what was loaded;
  // nothing is downloaded or written and output_dir is not needed.
  bool dry_run = false;
  // Bad records of a file or stream input to skip (--max-bad-records), a file's each listed in
  // output_dir/rejects.jsonl; 0 fails the run on the first. A vector must be all good.
  size_t max_bad_records = 0;
  // Write the JSON run report here (--report); empty for none.
  std::string report_path;
  // After the first Cancel(), seconds the downloads and filters in flight may take to finish
  // and be saved (--grace); a second Cancel() stops at once.
  double grace_s = 5;
  // fsync every image and the images folder before its manifest line (--durable).
  bool durable = false;
  // Take only shard K of N of the input (--shard "K/N", 0 <= K < N): the users whose id's
  // stable hash falls in it, so N runs with 0/N .. N-1/N take every user exactly once; bad
  // records are shard 0's. "" takes every user. `coordinator merge` joins the N output folders.
  std::string shard;
  // Where each input record keeps the user's id, name and image URL (--id-field, --name-field,
  // --url-field): a key, or a dotted path of keys into nested objects ("profile.avatar.url");
  // in CSV, the header's column. name_field "": records have no name.
  std::string id_field = "id";
  std::string name_field = "name";
  std::string url_field = "image_url";
  // Images in subfolders of images/ by a hash of the id, images/ab/cd/<id>.<ext> (--fan-out):
  // "auto" (the default: when the run has more than 100,000 users), "always" or "never".
  std::string fan_out = "auto";
  // The command that started this run, one argument an element: a stopped run's message shows
  // it with --resume added. Empty: "coordinator ... --resume".
  std::vector<std::string> command_line;
  // Read the manifest back into RunSummary::results (one record per user). A caller that only
  // needs the counts (the `coordinator` command) sets false and saves the memory.
  bool collect_results = true;

  // --- Filter ---
  // Filter spec (--filter): a step or a chain, e.g. "blur:5" or "thumbnail:256,sharpen:1";
  // "none" saves the images unchanged without workers. A bad spec fails Run() (exit code 2).
  std::string filter = "none";
  // The argument of a step the spec gives none (--intensity), e.g. filter "blur", intensity 3.
  std::optional<double> intensity;
  // Output format (--format): "input", "jpeg", "png" or "webp"; quality 1..100 (--quality).
  std::string format = "input";
  int quality = 85;
  // Keep EXIF (GPS included), XMP and IPTC metadata (--keep-metadata); stripped by default.
  bool keep_metadata = false;
  // Largest image filtered, in pixels, checked from its header before decoding (--max-pixels).
  uint64_t max_pixels = 40'000'000;

  // --- Workers ---
  // Local worker processes (--workers), 0..256; by default one per hardware thread. 0 means
  // remote workers only and needs bind (unless no worker runs: filter "none", dry_run or
  // sequential), as on the command line.
  size_t workers = std::max(1u, std::thread::hardware_concurrency());
  // Also accept remote workers on this ZeroMQ endpoint (--bind), e.g. tcp://127.0.0.1:5555; a
  // tcp:// one, loopback included, needs CurveZMQ keys (curve_secret and allow_workers) or
  // insecure (--insecure: plain TCP).
  std::string bind;
  bool insecure = false;
  // The coordinator's secret certificate (--curve-secret FILE, mode 0600, from
  // pixelmill-keygen): bind then speaks CurveZMQ, encrypted and authenticated.
  std::string curve_secret;
  // The folder of admitted workers' public certificates (--allow-workers DIR, NAME.key files),
  // re-read when it changes; a worker whose key is not there is refused at the handshake.
  std::string allow_workers;
  // The worker executable (--worker-binary). Empty: the `worker` installed beside the
  // coordinator, <prefix>/bin/worker of the prefix libpixelmill.so is found in (a relocated
  // install works); failing that, the path baked in at build time (the build's
  // CMAKE_INSTALL_PREFIX/bin/worker). Not read with filter "none" (no workers).
  std::string worker_binary;
  // Dispatches of one job, worker deaths included, before its user fails (--max-attempts).
  uint32_t max_attempts = 3;
  // Heartbeat interval with workers, in ms, 50..60000; 3 missed = dead (--heartbeat-ms).
  uint32_t heartbeat_ms = 1000;
  // Seconds a worker may hold one job before it goes to another worker (--job-timeout).
  double job_timeout_s = 300;
  // Seconds to wait for a remote worker when none is connected and none can start locally
  // (--remote-wait); then the waiting users fail with no_workers.
  double remote_wait_s = 60;
  // Address space cap of each local worker in MB (--worker-memory-mb); 0: sized from
  // max_pixels.
  uint64_t worker_memory_mb = 0;
  // One user at a time with the filter in this process, no workers (--sequential): the same
  // downloader, per-user rules, checks and manifest; the baseline benchmarks compare with.
  bool sequential = false;

  // --- Downloads ---
  // At most `concurrency` at once, `per_host` per host; each attempt may take `timeout_s`
  // seconds and is retried `retries` times; images above `max_image_bytes` fail.
  size_t concurrency = 256;
  size_t per_host = 64;
  double timeout_s = 30;
  unsigned retries = 3;
  uint64_t max_image_bytes = 20ull << 20;
  // Allow image URLs on loopback, private and link-local addresses (--allow-private-networks).
  bool allow_private_networks = false;
  // Only some of them (--allow-private-networks CIDR,CIDR...): e.g. "127.0.0.1/32,10.1.0.0/16"
  // (an address alone is one host); "all" is allow_private_networks. Every resolved address
  // and redirect hop is checked against it; "" leaves it to allow_private_networks.
  std::string allowed_private_networks;
  // Send every download through this HTTP proxy (--proxy); targets are still checked.
  std::string proxy;
  // Trust the CA certificates of this PEM file instead of the system's (--ca-file): an API
  // behind a private CA.
  std::string ca_file;
  // The HTTP version (--http-version): "auto" (HTTP/2 over TLS when the server offers it, each
  // host's requests multiplexed over one connection; else HTTP/1.1 keep-alive), "1.1" or "2"
  // (without asking, also over plain http://).
  std::string http_version = "auto";
  // Requests a second to one host at most (--rate; 0: no limit), from a token bucket of
  // `burst` requests (--burst; 0: max(1, rate / 10)). Retries and redirect hops take a token
  // too. A 429 answer (or a 503 with Retry-After) halves that host's rate (down to rate / 16);
  // each success gives back rate / 64.
  double rate = 0;
  double burst = 0;
  // Request headers, "Name: value" each (--header, repeatable), and a file of them, one a line
  // (--headers-file; blank lines and lines starting with # skipped), so that tokens need not be
  // in argv. Sent only to the hosts of the input's URLs (not to a redirect's other host); their
  // values never appear in a log, report or manifest.
  std::vector<std::string> headers;
  std::string headers_file;
  // The User-Agent header (--user-agent; "": "pixelmill/<version>").
  std::string user_agent;
  // Each distinct image once (--dedupe): "url" (the default: users whose image URLs are the
  // same, case and escapes normalised, share one download and filter job, and each gets its
  // own line and file with deduplicated_from), "content" (also identical downloaded bytes share
  // the filter job) or "off".
  std::string dedupe = "url";
  // Image bytes held at once (--max-memory).
  uint64_t max_memory = 512ull << 20;
};

// A user: an integer id, or a string id (UUIDs and the like: 1 to 64 bytes of UTF-8 without
// control characters) in `string_id`, which then stands for the id. The string "42" and the
// integer 42 are the same id.
struct User {
  User() = default;
  User(int64_t id_in, std::string name_in, std::string image_url_in)
      : id(id_in), name(std::move(name_in)), image_url(std::move(image_url_in)) {}
  User(std::string string_id_in, std::string name_in, std::string image_url_in)
      : name(std::move(name_in)),
        image_url(std::move(image_url_in)),
        string_id(std::move(string_id_in)) {}

  int64_t id = 0;
  std::string name;
  std::string image_url;
  std::string string_id;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A snapshot of a running run, about ten times a second and once at its end.
struct ProgressSample {
  double elapsed_s = 0;
  size_t total = 0;                // users in the input
  size_t skipped = 0;              // done by an earlier run (resume)
  size_t ok = 0, failed = 0;       // lines written by this run
  size_t downloads_in_flight = 0;  // on the wire
  size_t downloads_waiting = 0;    // accepted, waiting for their host, a retry or memory
  size_t images_waiting = 0;       // downloaded, waiting for a worker with credit
  size_t jobs_in_flight = 0;       // held by workers
  size_t workers = 0;              // connected
  size_t writes_pending = 0;       // images and lines on their way to disk
  uint64_t budget_used = 0, budget_limit = 0;  // image bytes held, RunOptions::max_memory
  uint64_t bytes_downloaded = 0;
  // Seconds each stage has spent blocked on the next so far.
  double downloads_waiting_for_memory_s = 0, images_waiting_for_workers_s = 0,
         results_waiting_for_disk_s = 0;
  double filter_cpu_s = 0;  // worker CPU time of the filters so far
};

// One figure of an event: its key and its value as text. A `literal` value is a JSON number,
// true or false (written unquoted in a JSON log), else it is a string.
struct EventField {
  std::string key;
  std::string value;
  bool literal = false;
};

// A notable event with the fields its message was made of, for structured logs: `message` is
// the text line, `kind` names the event ("done", "worker_lost", ...; "log" for a plain line).
struct Event {
  LogLevel level = LogLevel::kInfo;
  std::string kind = "log";
  std::string message;
  std::vector<EventField> fields;
};

struct UserResult {
  enum class State {
    kOk,       // the image is saved at output_path
    kFailed,   // error_code and error_message say why (the manifest's "error")
    kNotDone,  // no manifest line: the run was cancelled or stopped before this user
  };
  int64_t id = 0;         // the user's integer id (0 for a string id)
  std::string string_id;  // the user's string id ("" for an integer id)
  State state = State::kNotDone;
  bool ok = false;          // state == kOk
  std::string output_path;  // absolute: output_dir/images/<id>.<ext>; empty unless ok
  // Machine-readable code ("http_status", "decode_error", ...; "not_done" for kNotDone) and a
  // human message; empty when ok.
  std::string error_code, error_message;
  uint32_t attempts = 0;
  // Ok users only: the download's time (its waits and retries included), the filter's CPU time
  // in the worker (0 without a filter), and the saved image.
  double download_ms = 0;
  double filter_cpu_ms = 0;
  uint64_t bytes = 0;
  uint32_t width = 0, height = 0;
  // The user whose image (or failure) this one took (dedupe): the manifest's deduplicated_from,
  // its id as text (an integer id's decimal digits).
  std::optional<std::string> deduplicated_from;
};

// How a run speaks while it goes. Without one, Run() is silent. Called on Run()'s thread;
// do not block for long. The `coordinator` command's progress line, logs and summary table are
// one such observer.
class PIXELMILL_API Observer {
 public:
  virtual ~Observer();
  // A notable event (a worker lost, a fatal error...), one line of text; never one per user
  // at kInfo and above.
  virtual void OnEvent(LogLevel level, const std::string& message);
  // The same with the event's kind and fields. The default passes level and message to OnEvent.
  virtual void OnStructuredEvent(const Event& event);
  virtual void OnProgress(const ProgressSample& progress);
  // The run's end: a few lines, the last one "done: ...".
  virtual void OnSummary(const std::string& text);
  // The same as a table (the lines before "done: ", may be empty) and the done event. The
  // default passes the table and the done line to OnSummary.
  virtual void OnSummaryEvent(const std::string& table, const Event& done);
  // Return true to get OnUserDone for every user of the run (the default, false, spares a run
  // of millions the work of making each record).
  virtual bool WantsUserResults() const;
  // One user's result, as soon as its manifest line is committed (so a crash after it cannot
  // lose it): ok or failed, the same record as RunSummary::results holds at the end. Users
  // done by an earlier run (resume) are not repeated. Called on Run()'s thread, once per line.
  virtual void OnUserDone(const UserResult& result);
};

// What was loaded (all of it for a dry run).
struct InputSummary {
  std::string format;  // "json-array" or "jsonl"
  uint64_t users = 0, bad_records = 0;
  // Records passed over as other shards' (RunOptions::shard): their users, and every shard but
  // 0's bad records.
  uint64_t other_shards = 0;
  uint64_t bytes = 0;       // input bytes read
  double load_seconds = 0;  // reading and validating
  // The compact user store: all of it, and the part that is the users' own strings.
  uint64_t store_bytes = 0, store_field_bytes = 0;
};

struct RunSummary {
  // The `coordinator` exit code: 0 every user ok, 1 fatal error, bad input or cancelled, 2 bad
  // options, 3 finished with some users failed.
  int exit_code = 1;
  // When the run could not start or stopped on a fatal error, the last error event.
  std::string error;
  InputSummary input;
  // One per user, in input order. Empty when the run did not start (bad options, bad input,
  // the output folder or the resume refused: `error` says why), for a dry run, and without
  // RunOptions::collect_results.
  std::vector<UserResult> results;
  // Users whose last line is ok or failed (earlier runs' included when resuming), and the rest;
  // all 0 when the run did not start.
  size_t ok = 0, failed = 0, not_done = 0;
  double wall_seconds = 0;
  // The run's report: the JSON document `coordinator --report` writes, with the same fields
  // (options, load, download latencies and throttling, workers, waits, memory, verdict...); ""
  // when the run did not start or was a dry run.
  std::string report;
};

class PIXELMILL_API Runner {
 public:
  // `observer`, if given, must outlive the Runner.
  explicit Runner(RunOptions options, Observer* observer = nullptr);
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  ~Runner();

  // Runs `users` (ids unique, image_url non-empty: otherwise nothing runs, exit code 1).
  RunSummary Run(const std::vector<User>& users);
  // Runs the users of a JSON array or JSONL file (the `coordinator --input` format); "-" reads
  // standard input.
  RunSummary Run(const std::string& path);
  // Runs the users read from `in` (a JSON array or JSONL), read whole first.
  RunSummary Run(std::istream& in);

  // Asks the run under way (or the next one) to stop: the first call drains for grace_s, the
  // second stops at once; users without a line end as kNotDone. Async-signal-safe and
  // thread-safe. A cancelled Runner stays cancelled: use a new one for a new run.
  void Cancel() noexcept;
  // Cancel() on behalf of signal `signum` (e.g. SIGINT), which the stopped run's message names.
  void Cancel(int signum) noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixelmill
