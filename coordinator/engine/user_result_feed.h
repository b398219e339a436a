// UserResultFeed: each manifest line a runner commits, handed to Observer::OnUserDone as a
// UserResult, when the observer asks for them (WantsUserResults). Both runners (the Pipeline
// and --sequential) give it the lines they commit, so a program sees results during the run.
//
// One per run, on the run's thread.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "pixelmill/pixelmill.h"

namespace pixelmill {

class UserResultFeed {
 public:
  UserResultFeed(Observer& observer, const std::string& output_dir);

  // Whether lines should be kept for Committed() (the observer wants results).
  bool on() const { return on_; }
  // `line` (a manifest line, without its newline) is committed.
  void Committed(std::string_view line);

 private:
  Observer& observer_;
  const bool on_;
  const std::filesystem::path output_dir_;  // absolute
  std::string scratch_;
};

}  // namespace pixelmill
