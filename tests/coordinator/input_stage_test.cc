// LoadInput: bad records skipped into OUT/rejects.jsonl, which is never opened through a
// planted symlink.
#include "coordinator/input_stage.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

const char kUsers[] = R"({"name": "Alice", "id": 1, "image_url": "http://a.example/1.jpg"})"
                      "\n"
                      R"({"id": 2})"
                      "\n";

Options RejectsOptions(const TempDir& dir) {
  Options options;
  options.input = dir.Write("users.jsonl", kUsers);
  options.output = (dir / "out").string();
  options.max_bad_records = 5;
  return options;
}

TEST(InputStageTest, BadRecordsGoToRejects) {
  TempDir dir;
  UserStore store;
  Result<LoadStats> stats = LoadInput(RejectsOptions(dir), store);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->users, 1u);
  EXPECT_EQ(stats->bad_records, 1u);
  EXPECT_NE(ReadFile(dir / "out" / "rejects.jsonl").find(R"("line":2)"), std::string::npos);
}

TEST(InputStageTest, RefusesARejectsSymlink) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "precious");
  fs::create_directory(dir / "out");
  fs::create_symlink(victim, dir / "out" / "rejects.jsonl");
  UserStore store;
  Result<LoadStats> stats = LoadInput(RejectsOptions(dir), store);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), "io");
  EXPECT_NE(stats.status().message().find("symbolic link"), std::string::npos)
      << stats.status().message();
  EXPECT_EQ(ReadFile(victim), "precious");
}

}  // namespace
}  // namespace pixelmill
