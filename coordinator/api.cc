// The C++ API (include/pixelmill/pixelmill.h) over RunLoadedUsers: RunOptions become Options
// the way main.cpp turns flags into them, the users become a LoadedUsers, the public Observer
// hears the RunObserver's events, and the records are read back from the finished run's
// manifest (the contract), one per user in input order.
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <istream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "common/filter.h"
#include "common/input_file.h"
#include "common/user_loader.h"
#include "coordinator/coordinator.h"
#include "coordinator/manifest_reader.h"
#include "coordinator/options.h"
#include "coordinator/run_observer.h"
#include "coordinator/run_state.h"
#include "coordinator/stop_request.h"
#include "pixelmill/pixelmill.h"

#if !defined(PIXELMILL_INSTALLED_WORKER) || !defined(PIXELMILL_LIB_TO_BIN)
#error "the build defines PIXELMILL_INSTALLED_WORKER and PIXELMILL_LIB_TO_BIN"
#endif

namespace pixelmill {
namespace {

namespace od = simdjson::ondemand;
using Clock = std::chrono::steady_clock;

// Hears the internal events and hands them to the caller's Observer (if any), keeping the last
// error for RunSummary::error.
class ObserverBridge final : public RunObserver {
 public:
  explicit ObserverBridge(Observer* observer) : observer_(observer) {}

  void OnEvent(EventLevel level, const std::string& message) override {
    if (level == EventLevel::kError) last_error_ = message;
    if (observer_ != nullptr) observer_->OnEvent(ToLogLevel(level), message);
  }
  void OnProgress(const Progress& p) override {
    if (observer_ == nullptr) return;
    ProgressSample sample;
    sample.elapsed_s = p.elapsed_s;
    sample.total = p.total;
    sample.skipped = p.skipped;
    sample.ok = p.ok;
    sample.failed = p.failed;
    sample.downloads_in_flight = p.downloads_in_flight;
    sample.jobs_in_flight = p.jobs_in_flight;
    sample.workers = p.workers;
    sample.bytes_downloaded = p.bytes_downloaded;
    sample.memory_used = p.budget_used;
    sample.memory_limit = p.budget_limit;
    observer_->OnProgress(sample);
  }
  void OnSummary(const std::string& text) override {
    if (observer_ != nullptr) observer_->OnSummary(text);
  }

  const std::string& last_error() const { return last_error_; }

 private:
  static LogLevel ToLogLevel(EventLevel level) {
    switch (level) {
      case EventLevel::kDebug:
        return LogLevel::kDebug;
      case EventLevel::kInfo:
        return LogLevel::kInfo;
      case EventLevel::kWarning:
        return LogLevel::kWarning;
      case EventLevel::kError:
        break;
    }
    return LogLevel::kError;
  }

  Observer* observer_;
  std::string last_error_;
};

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

// RunOptions as main.cpp would make Options of the same flags; code "usage" for a bad option
// (exit code 2), "io" for a missing worker (exit code 1).
Result<Options> ToOptions(const RunOptions& in) {
  Options out;
  if (in.output_dir.empty()) return Status::Error("usage", "RunOptions::output_dir is required");
  if (in.resume && in.overwrite) {
    return Status::Error("usage", "resume and overwrite cannot go together");
  }
  out.output = in.output_dir;
  out.overwrite = in.overwrite;
  out.resume = in.resume;
  Result<FilterSpec> spec = ParseFilterSpec(in.filter);
  if (!spec.ok()) return Status::Error("usage", "filter: " + spec.status().message());
  out.filter = in.filter;
  out.filter_spec = spec.value();
  if (in.format == "jpeg") {
    out.filter_output.format = OutputFormat::kJpeg;
  } else if (in.format == "png") {
    out.filter_output.format = OutputFormat::kPng;
  } else if (in.format == "webp") {
    out.filter_output.format = OutputFormat::kWebp;
  } else if (in.format != "input") {
    return Status::Error("usage", "format: '" + in.format + "' is not input, jpeg, png or webp");
  }
  if (in.quality < 1 || in.quality > 100) {
    return Status::Error("usage", "quality: " + std::to_string(in.quality) + " is not 1..100");
  }
  out.filter_output.quality = in.quality;
  out.workers = in.workers > 0 ? in.workers : std::max(1u, std::thread::hardware_concurrency());
  if (!out.filter_spec.IsNone()) {
    out.worker_binary = in.worker_binary.empty() ? DefaultWorkerBinary() : in.worker_binary;
    if (out.worker_binary.empty()) {
      return Status::Error("io", "cannot find the worker executable (" +
                                     std::string(PIXELMILL_INSTALLED_WORKER) +
                                     "); set RunOptions::worker_binary");
    }
    if (::access(out.worker_binary.c_str(), X_OK) != 0) {
      return Status::Error("io", "worker binary " + out.worker_binary +
                                     " is not executable: " + std::strerror(errno));
    }
  }
  if (in.concurrency == 0 || in.per_host == 0 || in.max_image_bytes == 0 || in.max_memory == 0 ||
      !(in.timeout_s > 0) || !(in.grace_s >= 0)) {
    return Status::Error("usage",
                         "concurrency, per_host, max_image_bytes, max_memory and timeout_s must "
                         "be above 0, grace_s at least 0");
  }
  out.download.concurrency = in.concurrency;
  out.download.per_host = in.per_host;
  out.download.timeout_ms = static_cast<uint64_t>(in.timeout_s * 1000);
  out.download.retry.retries = in.retries;
  out.download.max_image_bytes = in.max_image_bytes;
  out.download.allow_private_networks = in.allow_private_networks;
  out.max_memory = in.max_memory;
  out.grace_ms = static_cast<uint64_t>(in.grace_s * 1000);
  out.durable = in.durable;
  out.report = in.report_path;
  return out;
}

uint64_t Fnv1a(uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

// Fills a store from `users`, checked as the loader checks records (unique ids, a URL each).
Result<LoadedUsers> FromVector(const std::vector<User>& users) {
  const Clock::time_point start = Clock::now();
  LoadedUsers loaded;
  loaded.stats.format = InputFormat::kJsonArray;
  std::unordered_map<int64_t, size_t> seen;
  seen.reserve(users.size());
  uint64_t hash = kFnvBasis;
  for (size_t i = 0; i < users.size(); ++i) {
    const User& user = users[i];
    const std::string where = "users[" + std::to_string(i) + "]: ";
    if (user.image_url.empty()) {
      return Status::Error("bad_input", where + "field \"image_url\": empty string");
    }
    if (auto [it, fresh] = seen.emplace(user.id, i); !fresh) {
      return Status::Error("bad_input", where + "field \"id\": duplicate id " +
                                            std::to_string(user.id) + " (first seen at index " +
                                            std::to_string(it->second) + ")");
    }
    loaded.store.Add(user.id, user.name, user.image_url);
    const std::string id = std::to_string(user.id);
    hash = Fnv1a(Fnv1a(Fnv1a(hash, id + '\0'), user.name + '\0'), user.image_url + '\0');
  }
  loaded.stats.users = users.size();
  loaded.stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // A vector has no file to stat: it is known by its count and its hashed fields.
  loaded.identity.path = "<users>";
  loaded.identity.size = users.size();
  loaded.identity.head_hash = hash;
  loaded.identity.tail_hash = hash;
  return loaded;
}

// Loads a JSON array or JSONL file with the coordinator's loader (any bad record fails).
Result<LoadedUsers> FromFile(const std::string& path, const std::string& shown_as) {
  Result<InputFile> input = InputFile::Open(path);
  if (!input.ok()) return input.status();
  LoadedUsers loaded;
  Result<LoadStats> stats = LoadUsers(input.value(), LoadOptions{}, loaded.store);
  if (!stats.ok()) {
    std::string message = stats.status().message();
    // The loader names the file it read; a stream's temporary file means nothing to a caller.
    for (size_t at = 0; (at = message.find(path, at)) != std::string::npos;) {
      message.replace(at, path.size(), shown_as);
      at += shown_as.size();
    }
    return Status::Error(stats.status().code(), message);
  }
  loaded.stats = stats.value();
  return loaded;
}

// A stream is read whole into a temporary file (unlinked at once) that the loader reads.
Result<LoadedUsers> FromStream(std::istream& in) {
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return Status::Error("io", "cannot read the input stream");
  std::error_code ec;
  std::string path = (std::filesystem::temp_directory_path(ec) / "pixelmill-input-XXXXXX").string();
  if (ec) path = "/tmp/pixelmill-input-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) {
    return Status::Error("io", "cannot create a temporary file for the input stream: " +
                                   std::string(std::strerror(errno)));
  }
  ::close(fd);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out.flush()) {
      ::unlink(path.c_str());
      return Status::Error("io", "cannot write a temporary copy of the input stream to " + path);
    }
  }
  Result<LoadedUsers> loaded = FromFile(path, "<stream>");
  ::unlink(path.c_str());
  if (!loaded.ok()) return loaded;
  constexpr size_t kHashed = size_t{1} << 20;  // as run.json hashes a file: each end's MiB
  const std::string_view all(text);
  loaded->identity.path = "<stream>";
  loaded->identity.size = text.size();
  loaded->identity.head_hash = Fnv1a(kFnvBasis, all.substr(0, kHashed));
  loaded->identity.tail_hash =
      Fnv1a(kFnvBasis, all.substr(text.size() - std::min(text.size(), kHashed)));
  return loaded;
}

// The finished run's manifest as id -> record (the last line of an id wins, as for --resume).
std::unordered_map<int64_t, UserResult> ReadRecords(const std::string& out_dir) {
  std::unordered_map<int64_t, UserResult> records;
  Result<ManifestReader> reader = ManifestReader::Open(out_dir + "/manifest.jsonl", false);
  if (!reader.ok()) return records;
  od::parser parser;
  ManifestLine line;
  for (;;) {
    Result<bool> more = reader->Next(line);
    if (!more.ok() || !more.value()) break;
    if (line.too_long || !line.terminated) continue;
    const simdjson::padded_string text(line.text);
    od::document doc;
    if (parser.iterate(text).get(doc) != simdjson::SUCCESS) continue;
    od::object object;
    int64_t id = 0;
    std::string_view status;
    if (doc.get_object().get(object) != simdjson::SUCCESS ||
        object.find_field_unordered("id").get_int64().get(id) != simdjson::SUCCESS ||
        object.find_field_unordered("status").get_string().get(status) != simdjson::SUCCESS) {
      continue;
    }
    UserResult r;
    r.id = id;
    r.ok = status == "ok";
    r.state = r.ok ? UserResult::State::kOk : UserResult::State::kFailed;
    std::string_view output;
    if (r.ok &&
        object.find_field_unordered("output").get_string().get(output) == simdjson::SUCCESS) {
      r.output_path = (std::filesystem::absolute(out_dir) / output).lexically_normal().string();
    }
    od::object error;
    if (!r.ok &&
        object.find_field_unordered("error").get_object().get(error) == simdjson::SUCCESS) {
      std::string_view code, message;
      if (error.find_field_unordered("code").get_string().get(code) == simdjson::SUCCESS) {
        r.error_code = code;
      }
      if (error.find_field_unordered("message").get_string().get(message) == simdjson::SUCCESS) {
        r.error_message = message;
      }
    }
    uint64_t attempts = 0;
    if (object.find_field_unordered("attempts").get_uint64().get(attempts) == simdjson::SUCCESS) {
      r.attempts = static_cast<uint32_t>(attempts);
    }
    double download_ms = 0;
    if (object.find_field_unordered("download_ms").get_double().get(download_ms) ==
        simdjson::SUCCESS) {
      r.download_ms = download_ms;
    }
    records[id] = std::move(r);
  }
  return records;
}

}  // namespace

Observer::~Observer() = default;
void Observer::OnEvent(LogLevel, const std::string&) {}
void Observer::OnProgress(const ProgressSample&) {}
void Observer::OnSummary(const std::string&) {}

class Runner::Impl {
 public:
  Impl(RunOptions options, Observer* observer)
      : options_(std::move(options)), observer_(observer) {}

  // Loads the users with `load`, runs them and reads their records back.
  RunSummary Run(const std::function<Result<LoadedUsers>()>& load) {
    const Clock::time_point start = Clock::now();
    RunSummary summary;
    ObserverBridge bridge(observer_);
    Result<Options> options = ToOptions(options_);
    if (!options.ok()) {
      summary.exit_code = options.status().code() == "usage" ? kExitUsage : kExitFatal;
      summary.error = options.status().message();
      bridge.OnEvent(EventLevel::kError, summary.error);
      return summary;
    }
    Result<LoadedUsers> users = load();
    if (!users.ok()) {
      summary.exit_code = kExitFatal;
      summary.error = users.status().message();
      bridge.OnEvent(EventLevel::kError, summary.error);
      return summary;
    }
    summary.exit_code = RunLoadedUsers(options.value(), users.value(), bridge, &stop_);
    if (summary.exit_code == kExitFatal) summary.error = bridge.last_error();
    std::unordered_map<int64_t, UserResult> records = ReadRecords(options_.output_dir);
    const UserStore& store = users->store;
    summary.results.reserve(store.size());
    for (size_t i = 0; i < store.size(); ++i) {
      auto it = records.find(store.id(i));
      if (it != records.end()) {
        summary.results.push_back(std::move(it->second));
      } else {
        UserResult r;
        r.id = store.id(i);
        r.state = UserResult::State::kNotDone;
        r.error_code = "not_done";
        r.error_message = "no manifest line: the run stopped before this user was done";
        summary.results.push_back(std::move(r));
      }
      switch (summary.results.back().state) {
        case UserResult::State::kOk:
          ++summary.ok;
          break;
        case UserResult::State::kFailed:
          ++summary.failed;
          break;
        case UserResult::State::kNotDone:
          ++summary.not_done;
          break;
      }
    }
    summary.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return summary;
  }

  void Cancel() noexcept { stop_.Request(); }

 private:
  const RunOptions options_;
  Observer* observer_;
  StopRequest stop_;
};

Runner::Runner(RunOptions options, Observer* observer)
    : impl_(std::make_unique<Impl>(std::move(options), observer)) {}
Runner::~Runner() = default;

RunSummary Runner::Run(const std::vector<User>& users) {
  return impl_->Run([&] { return FromVector(users); });
}

RunSummary Runner::Run(const std::string& path) {
  return impl_->Run([&]() -> Result<LoadedUsers> {
    Result<InputIdentity> identity = IdentifyInput(path);
    if (!identity.ok()) return identity.status();
    Result<LoadedUsers> loaded = FromFile(path, path);
    if (loaded.ok()) loaded->identity = std::move(identity).value();
    return loaded;
  });
}

RunSummary Runner::Run(std::istream& in) {
  return impl_->Run([&] { return FromStream(in); });
}

void Runner::Cancel() noexcept { impl_->Cancel(); }

}  // namespace pixelmill
