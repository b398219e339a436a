#include "coordinator/engine/user_rules.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "coordinator/events/run_text.h"

namespace pixelmill {

Result<ImageHeader> ProbeDownloaded(const Download& d) {
  Result<ImageHeader> header = ProbeImage(d.body.view());
  if (header.ok()) return header;
  return Status::Error(Code::kNotImage, NotImageMessage(d.url, header.status().message(),
                                                        d.content_type, d.body.size()));
}

ManifestRecord DownloadedRecord(uint32_t attempts, Duration took) {
  ManifestRecord info;
  info.download_attempts = attempts;
  info.download_ms = Millis(took);
  return info;
}

void SaveUnfiltered(const ImageHeader& header, ImageBuffer& body, ManifestRecord& info) {
  body.set_format(header.format);
  info.width = header.width;
  info.height = header.height;
}

void RecordFiltered(const FilterSpec& spec, JobOutcome& outcome, ManifestRecord& info) {
  info.filtered = true;
  info.filter_attempts = outcome.attempts;
  info.filter = spec.text;
  info.cpu_micros = outcome.cpu_micros;
  info.worker = std::move(outcome.worker);
  info.width = outcome.width;
  info.height = outcome.height;
}

CommitEnd JudgeCommit(CommitResult result, const Status& status) {
  const auto stop = [&] {
    return CommitEnd{CommitEnd::kStopRun,
                     status.message() + " (the manifest holds every line before this error)"};
  };
  switch (result) {
    case CommitResult::kCommitted:
      return CommitEnd{CommitEnd::kDone, {}};
    case CommitResult::kImageFailed:
      if (status.code() == Code::kFull) return stop();
      return CommitEnd{CommitEnd::kFailUser, {}};
    case CommitResult::kLineFailed:
      return stop();
  }
  return stop();
}

void KeepFirstFatal(std::string& fatal, const char* where, const char* what) {
  if (fatal.empty()) fatal = std::string("internal error in ") + where + ": " + what;
}

void CloseLoopOrDie(uv_loop_t& loop) {
  if (const int rc = uv_loop_close(&loop); rc != 0) {
    std::fprintf(stderr, "internal error: libuv loop closed with handles open (%s)\n",
                 uv_strerror(rc));
    std::abort();
  }
}

}  // namespace pixelmill
