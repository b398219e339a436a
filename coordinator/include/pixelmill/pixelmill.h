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

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#define PIXELMILL_API __attribute__((visibility("default")))

namespace pixelmill {

// What a run is told; each field is the `coordinator` flag of the same meaning (README,
// "Command line"), with the same default.
struct RunOptions {
  // Output folder (--output): images/, manifest.jsonl, run.json. Required.
  std::string output_dir;
  // Delete an earlier run in output_dir and start afresh (--overwrite); without it, and without
  // resume, a folder holding an earlier run is refused.
  bool overwrite = false;
  // Continue the earlier run in output_dir (--resume): users with an intact result are kept.
  bool resume = false;
  // Filter spec (--filter): a step or a chain, e.g. "blur:5" or "thumbnail:256,sharpen:1";
  // "none" saves the images unchanged without workers. A bad spec fails Run() (exit code 2).
  std::string filter = "none";
  // Output format (--format): "input", "jpeg", "png" or "webp"; quality 1..100 (--quality).
  std::string format = "input";
  int quality = 85;
  // Local worker processes (--workers); 0 means the number of hardware threads.
  size_t workers = 0;
  // The worker executable (--worker-binary). Empty: the `worker` installed beside the
  // coordinator, <prefix>/bin/worker of the prefix libpixelmill.so is found in (a relocated
  // install works); failing that, the path baked in at build time (the build's
  // CMAKE_INSTALL_PREFIX/bin/worker). Not read with filter "none" (no workers).
  std::string worker_binary;
  // Downloads: at most `concurrency` at once, `per_host` per host; each attempt may take
  // `timeout_s` seconds and is retried `retries` times; images above `max_image_bytes` fail.
  size_t concurrency = 256;
  size_t per_host = 64;
  double timeout_s = 30;
  unsigned retries = 3;
  uint64_t max_image_bytes = 20ull << 20;
  // Image bytes held at once (--max-memory).
  uint64_t max_memory = 512ull << 20;
  // Allow image URLs on loopback, private and link-local addresses (--allow-private-networks).
  bool allow_private_networks = false;
  // After the first Cancel(), seconds the downloads and filters in flight may take to finish
  // and be saved (--grace); a second Cancel() stops at once.
  double grace_s = 5;
  // fsync every image and the images folder before its manifest line (--durable).
  bool durable = false;
  // Write the JSON run report here (--report); empty for none.
  std::string report_path;
};

struct User {
  int64_t id = 0;
  std::string name;
  std::string image_url;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A snapshot of a running run, about ten times a second and once at its end.
struct ProgressSample {
  double elapsed_s = 0;
  size_t total = 0;    // users in the input
  size_t skipped = 0;  // done by an earlier run (resume)
  size_t ok = 0, failed = 0;
  size_t downloads_in_flight = 0;
  size_t jobs_in_flight = 0;  // held by workers
  size_t workers = 0;         // connected
  uint64_t bytes_downloaded = 0;
  uint64_t memory_used = 0, memory_limit = 0;  // image bytes held, RunOptions::max_memory
};

// How a run speaks while it goes. Without one, Run() is silent. Called on Run()'s thread;
// do not block for long.
class PIXELMILL_API Observer {
 public:
  virtual ~Observer();
  // A notable event (a worker lost, a fatal error...), one line of text.
  virtual void OnEvent(LogLevel level, const std::string& message);
  virtual void OnProgress(const ProgressSample& progress);
  // The run's end: a few lines, the last one "done: ...".
  virtual void OnSummary(const std::string& text);
};

struct UserResult {
  enum class State {
    kOk,       // the image is saved at output_path
    kFailed,   // error_code and error_message say why (the manifest's "error")
    kNotDone,  // no manifest line: the run was cancelled or stopped before this user
  };
  int64_t id = 0;
  State state = State::kNotDone;
  bool ok = false;          // state == kOk
  std::string output_path;  // absolute: output_dir/images/<id>.<ext>; empty unless ok
  // Machine-readable code ("http_status", "decode_error", ...; "not_done" for kNotDone) and a
  // human message; empty when ok.
  std::string error_code, error_message;
  uint32_t attempts = 0;
  double download_ms = 0;  // ok users only
};

struct RunSummary {
  // The `coordinator` exit code: 0 every user ok, 1 fatal error, bad input or cancelled, 2 bad
  // options, 3 finished with some users failed.
  int exit_code = 1;
  // When the run could not start or stopped on a fatal error, the last error event.
  std::string error;
  // One per user, in input order; empty when the input could not be loaded.
  std::vector<UserResult> results;
  size_t ok = 0, failed = 0, not_done = 0;
  double wall_seconds = 0;
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
  // Runs the users of a JSON array or JSONL file (the `coordinator --input` format).
  RunSummary Run(const std::string& path);
  // Runs the users read from `in` (a JSON array or JSONL), read whole first.
  RunSummary Run(std::istream& in);

  // Asks the run under way (or the next one) to stop: the first call drains for grace_s, the
  // second stops at once; users without a line end as kNotDone. Async-signal-safe and
  // thread-safe. A cancelled Runner stays cancelled: use a new one for a new run.
  void Cancel() noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixelmill
