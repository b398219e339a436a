// The per-user rules both configurations of the engine follow (user_rules.h): the probe of a
// downloaded body, the disk-full rule and its message, the first fatal error kept.
#include "coordinator/engine/user_rules.h"

#include <string>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(UserRulesTest, ABodyThatIsNoImageIsNotImage) {
  Download d;
  d.url = "http://example.com/1.jpg";
  d.content_type = "text/html";
  d.body = ImageBuffer::FromString("<html>no picture here</html>");
  Result<ImageHeader> header = ProbeDownloaded(d);
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), Code::kNotImage);
  const std::string& message = header.status().message();
  EXPECT_NE(message.find("http://example.com/1.jpg"), std::string::npos) << message;
  EXPECT_NE(message.find("text/html"), std::string::npos) << message;
}

TEST(UserRulesTest, ACommittedLineIsDone) {
  EXPECT_EQ(JudgeCommit(CommitResult::kCommitted, Status::Ok()).action, CommitEnd::kDone);
}

// An image that could not be written fails its user, unless the output is full: then the run
// stops and the user is left for a resume (a failed line would be kept by --resume).
TEST(UserRulesTest, AFullOutputStopsTheRunOtherWriteErrorsFailTheUser) {
  const CommitEnd write =
      JudgeCommit(CommitResult::kImageFailed, Status::Error(Code::kWrite, "cannot write x.png"));
  EXPECT_EQ(write.action, CommitEnd::kFailUser);
  const CommitEnd full = JudgeCommit(CommitResult::kImageFailed,
                                     Status::Error(Code::kFull, "no space left on device"));
  EXPECT_EQ(full.action, CommitEnd::kStopRun);
  EXPECT_EQ(full.why, "no space left on device (the manifest holds every line before this error)");
}

TEST(UserRulesTest, AManifestThatRefusesALineStopsTheRun) {
  const CommitEnd end = JudgeCommit(CommitResult::kLineFailed,
                                    Status::Error(Code::kWrite, "manifest.jsonl: I/O error"));
  EXPECT_EQ(end.action, CommitEnd::kStopRun);
  EXPECT_EQ(end.why, "manifest.jsonl: I/O error (the manifest holds every line before this error)");
}

TEST(UserRulesTest, TheFirstFatalErrorIsKept) {
  std::string fatal;
  KeepFirstFatal(fatal, "pump", "bad_alloc");
  KeepFirstFatal(fatal, "download timer", "later");
  EXPECT_EQ(fatal, "internal error in pump: bad_alloc");
}

}  // namespace
}  // namespace pixelmill
