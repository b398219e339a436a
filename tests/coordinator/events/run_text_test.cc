// The words both runners use: the not_image message, signal names and the resume command.
#include "coordinator/events/run_text.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(RunTextTest, NotImageMessage) {
  EXPECT_EQ(NotImageMessage("http://h/1.jpg", "JPEG is truncated", "text/html", 42),
            "body from http://h/1.jpg is not a usable image: JPEG is truncated (Content-Type was "
            "'text/html', 42 bytes)");
  EXPECT_EQ(NotImageMessage("u", "w", std::string(300, 'x'), 1).find(std::string(101, 'x')),
            std::string::npos);
}

TEST(RunTextTest, SignalNames) {
  EXPECT_STREQ(StopSignalName(SIGINT), "SIGINT");
  EXPECT_STREQ(StopSignalName(SIGHUP), "SIGHUP");
  EXPECT_STREQ(StopSignalName(SIGTERM), "SIGTERM");
}

TEST(RunTextTest, ResumeCommand) {
  EXPECT_EQ(
      ResumeCommand({"coordinator", "--input", "my users.jsonl", "--overwrite", "--sequential"}),
      "coordinator --input 'my users.jsonl' --sequential --resume");
  EXPECT_EQ(ResumeCommand({"c", "--resume", "--output", "it's"}), "c --resume --output 'it'\\''s'");
  EXPECT_EQ(ResumeCommand({}), "coordinator ... --resume");
  EXPECT_EQ(ResumeCommand({"c", "--input", "-", "--output", "o"}),
            "c --input - --output o --resume  # fed the same users on standard input");
}

TEST(RunTextTest, HeaderValuesAreHiddenWhereverTheCommandLineIsShown) {
  const std::vector<std::string> line = {
      "c", "--header", "Authorization: Bearer s3cret", "--header=X-Key:k3y", "--header", "odd"};
  EXPECT_EQ(HideHeaderValues(line),
            (std::vector<std::string>{"c", "--header", "Authorization: ...", "--header=X-Key: ...",
                                      "--header", "..."}));
  const std::string resume = ResumeCommand(line);
  EXPECT_EQ(resume.find("s3cret"), std::string::npos) << resume;
  EXPECT_EQ(resume.find("k3y"), std::string::npos) << resume;
  EXPECT_EQ(HideHeaderValues({"c", "--header"}), (std::vector<std::string>{"c", "--header"}));
}

}  // namespace
}  // namespace pixelmill
