#include "coordinator/input_stage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/json_writer.h"
#include "common/memory_limit.h"
#include "coordinator/run_text.h"
#include "coordinator/url_policy.h"

namespace pixelmill {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

// rejects.jsonl: one line per skipped record, opened on the first one.
class RejectsFile {
 public:
  explicit RejectsFile(std::string path) : path_(std::move(path)) {}

  void Write(const BadRecord& bad) {
    if (!file_ && error_.empty()) Open();
    if (!file_) return;
    JsonObject line;
    line.Add(bad.by_line ? "line" : "index", bad.position);
    if (!bad.field.empty()) line.Add("field", bad.field);
    line.Add("error", bad.message);
    // A bad record may hold URLs with credentials: redacted as every other written URL.
    if (!bad.raw.empty()) line.Add("record", RedactUrlsInText(bad.raw));
    std::string text = line.Done();
    text.push_back('\n');
    if (std::fwrite(text.data(), 1, text.size(), file_.get()) != text.size()) {
      error_ = "cannot write " + path_ + ": " + std::strerror(errno);
    }
  }

  const std::string& path() const { return path_; }

  Status Close() {
    if (file_ && std::fclose(file_.release()) != 0 && error_.empty()) {
      error_ = "cannot write " + path_ + ": " + std::strerror(errno);
    }
    return error_.empty() ? Status::Ok() : Status::Error("io", error_);
  }

 private:
  // O_NOFOLLOW: a symlink planted at the name is refused, not written through.
  void Open() {
    const int fd =
        ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ELOOP) {
      error_ = "refusing to write " + path_ +
               ": it is a symbolic link (pixelmill does not write through symbolic links); "
               "remove it or choose another --output";
      return;
    }
    if (fd >= 0) file_.reset(::fdopen(fd, "w"));
    if (file_) return;
    error_ = "cannot write " + path_ + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
  }

  std::string path_;
  FilePtr file_;
  std::string error_;
};

}  // namespace

Result<LoadStats> LoadInput(const Options& options, UserStore& store, RunObserver& observer,
                            const StopRequest* stop) {
  Result<InputFile> input = InputFile::Open(options.input);
  if (!input.ok()) return input.status();

  const bool keep_rejects = options.max_bad_records > 0 && !options.output.empty();
  if (keep_rejects) {
    std::error_code ec;
    std::filesystem::create_directories(options.output, ec);
    if (ec) {
      return Status::Error("io",
                           "cannot create output folder " + options.output + ": " + ec.message());
    }
  }
  RejectsFile rejects((std::filesystem::path(options.output) / "rejects.jsonl").string());
  size_t printed = 0;
  LoadOptions load_options;
  load_options.max_bad_records = options.max_bad_records;
  if (stop != nullptr) load_options.stop_requested = [stop] { return stop->requests() > 0; };
  const MemoryLimit memory = LoadingMemoryLimit();
  load_options.max_memory_bytes = memory.bytes;
  load_options.memory_limit_why = memory.why;
  const std::string& name = input->name();
  BadRecordFn on_bad = [&](const BadRecord& bad) {
    if (keep_rejects) rejects.Write(bad);
    // With a tolerance, warn about the first few as they go; without, the failure lists them.
    if (options.max_bad_records > 0 && printed < load_options.max_errors_shown) {
      observer.OnEvent(EventLevel::kWarning, "skipping " + bad.Describe(name));
      ++printed;
    }
  };
  Result<LoadStats> stats = LoadUsers(input.value(), load_options, store, on_bad);
  if (Status s = rejects.Close(); !s.ok() && stats.ok()) return s;
  if (!stats.ok() && stats.status().code() == "interrupted" && stop != nullptr) {
    return Status::Error("interrupted", std::string("interrupted by ") +
                                            StopSignalName(stop->first_signal()) + ": " +
                                            stats.status().message() + "; nothing was downloaded");
  }
  if (stats.ok() && stats->bad_records > 0) {
    const std::string where = keep_rejects ? ", listed in " + rejects.path() : "";
    Emit(observer, EventLevel::kWarning, "skipped %llu bad record(s)%s",
         static_cast<unsigned long long>(stats->bad_records), where.c_str());
  }
  return stats;
}

}  // namespace pixelmill
