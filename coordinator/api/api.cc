// The C++ API (include/pixelmill/pixelmill.h): RunOptions become Options (api_options.cc), the
// users a LoadedUsers (a file through RunCoordinator, as the `coordinator` command reads it; a
// vector or a stream through api_input.cc), and the records are read back from the finished
// run's manifest (the contract), one per user in input order.
#include <chrono>
#include <functional>
#include <istream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "coordinator/api/api_parts.h"
#include "coordinator/api/option_table.h"
#include "coordinator/engine/options.h"
#include "coordinator/events/clock.h"
#include "coordinator/events/run_observer.h"
#include "coordinator/events/stop_request.h"
#include "coordinator/input/user_loader.h"
#include "coordinator/run/coordinator.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {
namespace {

// Passes everything to the caller's Observer (if any), keeping the last error for
// RunSummary::error.
//
// Run from the C++ API (no command line), errors and warnings speak in the API's terms: the
// RunOptions field beside each flag they name (InApiTerms).
class ErrorKeeper final : public Observer {
 public:
  ErrorKeeper(Observer* observer, bool api_terms) : observer_(observer), api_terms_(api_terms) {}

  void OnEvent(LogLevel level, const std::string& message) override {
    const std::string text = Terms(level, message);
    if (level == LogLevel::kError) last_error_ = text;
    if (observer_ != nullptr) observer_->OnEvent(level, text);
  }
  void OnStructuredEvent(const Event& event) override {
    Event translated = event;
    translated.message = Terms(event.level, event.message);
    if (event.level == LogLevel::kError) last_error_ = translated.message;
    if (observer_ != nullptr) observer_->OnStructuredEvent(translated);
  }
  void OnProgress(const ProgressSample& progress) override {
    if (observer_ != nullptr) observer_->OnProgress(progress);
  }
  void OnSummary(const std::string& text) override {
    if (observer_ != nullptr) observer_->OnSummary(text);
  }
  void OnSummaryEvent(const std::string& table, const Event& done) override {
    if (observer_ != nullptr) observer_->OnSummaryEvent(table, done);
  }
  bool WantsUserResults() const override {
    return observer_ != nullptr && observer_->WantsUserResults();
  }
  void OnUserDone(const UserResult& result) override {
    if (observer_ != nullptr) observer_->OnUserDone(result);
  }

  const std::string& last_error() const { return last_error_; }
  // `message` in the API's terms, when it is an error or a warning of an API run.
  std::string Terms(LogLevel level, const std::string& message) const {
    const bool notable = level == LogLevel::kError || level == LogLevel::kWarning;
    return api_terms_ && notable ? InApiTerms(message) : message;
  }

 private:
  Observer* observer_;
  bool api_terms_;
  std::string last_error_;
};

InputSummary Describe(const LoadedUsers& users) {
  InputSummary input;
  input.format = std::string(InputFormatName(users.stats.format));
  input.users = users.stats.users;
  input.bad_records = users.stats.bad_records;
  input.other_shards = users.stats.other_shards;
  input.bytes = users.stats.bytes;
  input.load_seconds = users.stats.seconds;
  input.store_bytes = users.store.MemoryBytes();
  input.store_field_bytes = users.store.FieldBytes();
  return input;
}

// One record per user of `store`, in its order: the manifest's, else kNotDone.
std::vector<UserResult> Records(const std::string& out_dir, const UserStore& store) {
  std::unordered_map<std::string, UserResult> lines = ReadRecords(out_dir);
  std::vector<UserResult> results;
  results.reserve(store.size());
  for (size_t i = 0; i < store.size(); ++i) {
    const UserId id = store.id(i);
    auto it = lines.find(IdText(id));
    if (it != lines.end()) {
      results.push_back(std::move(it->second));
      continue;
    }
    UserResult r;
    r.id = id.number;
    r.string_id = id.text;
    r.state = UserResult::State::kNotDone;
    r.error_code = std::string(CodeName(Code::kNotDone));
    r.error_message = "no manifest line: the run stopped before this user was done";
    results.push_back(std::move(r));
  }
  return results;
}

// A vector's or a stream's users, run as RunCoordinator runs a file's.
RunOutcome RunGiven(Result<LoadedUsers> loaded, const Options& options, LoadedUsers& users,
                    Observer& observer, StopRequest& stop) {
  if (!loaded.ok()) {
    observer.OnEvent(LogLevel::kError, loaded.status().message());
    return {};
  }
  users = std::move(loaded).value();
  if (options.dry_run) return {kExitOk};
  return RunLoadedUsers(options, users, observer, &stop);
}

}  // namespace

class Runner::Impl {
 public:
  // Loads the users and runs them (one of RunCoordinator, RunGiven).
  using RunFn = std::function<RunOutcome(const Options&, LoadedUsers&, Observer&, StopRequest&)>;

  Impl(RunOptions options, Observer* observer)
      : options_(std::move(options)), observer_(observer) {}

  RunSummary Run(const RunFn& run) {
    const TimePoint start = RealClock().Now();
    RunSummary summary;
    ErrorKeeper keeper(observer_, options_.command_line.empty());
    Result<Options> options = ToOptions(options_);
    if (!options.ok()) {
      summary.exit_code = options.status().code() == Code::kUsage ? kExitUsage : kExitFatal;
      keeper.OnEvent(LogLevel::kError, options.status().message());
    } else {
      LoadedUsers users;
      const RunOutcome outcome = run(options.value(), users, keeper, stop_);
      summary.exit_code = outcome.exit_code;
      summary.input = Describe(users);
      if (outcome.began) {  // else the folder's manifest is an earlier run's, not this one's
        summary.ok = outcome.ok;
        summary.report = std::move(outcome.report);
        summary.failed = outcome.failed;
        summary.not_done =
            users.store.size() - std::min<size_t>(users.store.size(), outcome.ok + outcome.failed);
        if (options_.collect_results) summary.results = Records(options_.output_dir, users.store);
      }
    }
    if (summary.exit_code == kExitFatal || summary.exit_code == kExitUsage) {
      summary.error = keeper.last_error();
    }
    summary.wall_seconds = Seconds(RealClock().Now() - start);
    return summary;
  }

  void Cancel(int signum) noexcept { stop_.Request(signum); }

 private:
  const RunOptions options_;
  Observer* observer_;
  StopRequest stop_;
};

Runner::Runner(RunOptions options, Observer* observer)
    : impl_(std::make_unique<Impl>(std::move(options), observer)) {}
Runner::~Runner() = default;

RunSummary Runner::Run(const std::vector<User>& users) {
  return impl_->Run([&](const Options& o, LoadedUsers& u, Observer& obs, StopRequest& stop) {
    return RunGiven(FromVector(users, o.input_shard), o, u, obs, stop);
  });
}

RunSummary Runner::Run(const std::string& path) {
  return impl_->Run([&](const Options& o, LoadedUsers& u, Observer& obs, StopRequest& stop) {
    Options with_input = o;
    with_input.input = path;
    return RunCoordinator(with_input, u, obs, &stop);
  });
}

RunSummary Runner::Run(std::istream& in) {
  return impl_->Run([&](const Options& o, LoadedUsers& u, Observer& obs, StopRequest& stop) {
    return RunGiven(FromStream(in, o), o, u, obs, stop);
  });
}

void Runner::Cancel() noexcept { impl_->Cancel(0); }
void Runner::Cancel(int signum) noexcept { impl_->Cancel(signum); }

}  // namespace pixelmill
