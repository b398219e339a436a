#include "coordinator/engine/input_stage.h"

#include <sys/stat.h>

#include <string>

#include "common/base/json_writer.h"
#include "common/base/memory_limit.h"
#include "coordinator/download/url_policy.h"
#include "coordinator/events/run_text.h"

namespace pixelmill {

void Rejects::Write(const BadRecord& bad) {
  if (!error_.empty()) return;
  if (!file_) {
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      error_ = "refusing to write " + path_ +
               ": it is a symbolic link (pixelmill does not write through symbolic links); "
               "remove it or choose another --output";
      return;
    }
    Result<AtomicFileWriter> file = AtomicFileWriter::Create(path_);
    if (!file.ok()) {
      error_ = file.status().message();
      return;
    }
    file_.emplace(std::move(file).value());
  }
  JsonObject line;
  line.Add(bad.by_line ? "line" : "index", bad.position);
  if (!bad.field.empty()) line.Add("field", bad.field);
  line.Add("error", bad.message);
  // A bad record may hold URLs with credentials: redacted as every other written URL.
  if (!bad.raw.empty()) line.Add("record", RedactUrlsInText(bad.raw));
  std::string text = line.Done();
  text.push_back('\n');
  if (Status s = file_->Append(text); !s.ok()) error_ = s.message();
}

Status Rejects::status() const {
  return error_.empty() ? Status::Ok() : Status::Error(Code::kIo, error_);
}

Status Rejects::Publish() {
  if (!error_.empty() || !file_) return status();
  Status s = file_->Commit(/*sync=*/false);
  file_.reset();
  return s;
}

Result<LoadStats> LoadInput(const Options& options, UserStore& store, Rejects& rejects,
                            Observer& observer, const StopRequest* stop) {
  Result<InputFile> input = InputFile::Open(options.input);
  if (!input.ok()) return input.status();

  const bool keep_rejects = options.max_bad_records > 0 && !rejects.path().empty();
  size_t printed = 0;
  LoadOptions load_options;
  load_options.max_bad_records = options.max_bad_records;
  load_options.shard = options.input_shard;
  load_options.fields = options.record_fields;
  if (stop != nullptr) load_options.stop_requested = [stop] { return stop->requests() > 0; };
  const MemoryLimit memory = LoadingMemoryLimit();
  load_options.max_memory_bytes = memory.bytes;
  load_options.memory_limit_why = memory.why;
  const std::string& name = input->name();
  BadRecordFn on_bad = [&](const BadRecord& bad) {
    if (keep_rejects) rejects.Write(bad);
    // With a tolerance, warn about the first few as they go; without, the failure lists them.
    if (options.max_bad_records > 0 && printed < load_options.max_errors_shown) {
      observer.OnEvent(LogLevel::kWarning, "skipping " + bad.Describe(name));
      ++printed;
    }
  };
  Result<LoadStats> stats = LoadUsers(input.value(), load_options, store, on_bad);
  if (Status s = rejects.status(); !s.ok() && stats.ok()) return s;
  if (!stats.ok() && stats.status().code() == Code::kInterrupted && stop != nullptr) {
    return Status::Error(Code::kInterrupted,
                         std::string("interrupted by ") + StopSignalName(stop->first_signal()) +
                             ": " + stats.status().message() + "; nothing was downloaded");
  }
  if (stats.ok() && stats->bad_records > 0) {
    const std::string where = keep_rejects ? ", listed in " + rejects.path() : "";
    Emit(observer, LogLevel::kWarning, "skipped %llu bad record(s)%s",
         static_cast<unsigned long long>(stats->bad_records), where.c_str());
  }
  return stats;
}

}  // namespace pixelmill
