#include "coordinator/engine/user_result_feed.h"

#include <system_error>

#include "coordinator/output/manifest.h"

namespace pixelmill {
namespace {

std::filesystem::path Absolute(const std::string& dir) {
  std::error_code error;
  std::filesystem::path path = std::filesystem::absolute(dir, error);
  return error ? std::filesystem::path(dir) : path;
}

}  // namespace

UserResultFeed::UserResultFeed(Observer& observer, const std::string& output_dir)
    : observer_(observer),
      on_(observer.WantsUserResults()),
      output_dir_(on_ ? Absolute(output_dir) : std::filesystem::path()) {}

void UserResultFeed::Committed(std::string_view line) {
  if (!on_) return;
  ManifestRecord record;
  if (!ReadRecordCopy(line, scratch_, record)) {  // our own line: a bug, said so
    observer_.OnEvent(LogLevel::kError,
                      "internal: a committed manifest line did not read back "
                      "as a record; OnUserDone skipped it (the manifest has it)");
    return;
  }
  observer_.OnUserDone(ToUserResult(record, output_dir_));
}

}  // namespace pixelmill
