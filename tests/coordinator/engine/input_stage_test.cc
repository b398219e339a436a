// LoadInput: bad records skipped into OUT/rejects.jsonl, which is never opened through a
// planted symlink.
#include "coordinator/engine/input_stage.h"

#include <filesystem>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/json_at.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::JsonLinesWith;
using testing::ReadFile;
using testing::TempDir;

const char kUsers[] = R"({"name": "Alice", "id": 1, "image_url": "http://a.example/1.jpg"})"
                      "\n"
                      R"({"id": 2})"
                      "\n";

Options RejectsOptions(const TempDir& dir) {
  Options options;
  options.input = dir.Write("users.jsonl", kUsers);
  options.output_dir = (dir / "out").string();
  options.max_bad_records = 5;
  return options;
}

std::string RejectsPath(const TempDir& dir) { return (dir / "out" / "rejects.jsonl").string(); }

TEST(InputStageTest, BadRecordsGoToRejects) {
  TempDir dir;
  fs::create_directory(dir / "out");
  UserStore store;
  Rejects rejects(RejectsPath(dir));
  Result<LoadStats> stats = LoadInput(RejectsOptions(dir), store, rejects);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->users, 1u);
  EXPECT_EQ(stats->bad_records, 1u);
  ASSERT_TRUE(rejects.Publish().ok());
  const std::string listed = ReadFile(dir / "out" / "rejects.jsonl");
  EXPECT_EQ(JsonLinesWith(listed, "/line", "2"), 1u) << listed;
}

// A bad record's URLs are written redacted: passwords, query values and fragments, in valid
// and invalid JSON alike, and in JSON's escaped-slash spelling.
TEST(InputStageTest, RejectsHideTheSecretsOfUrlsInBadRecords) {
  TempDir dir;
  Options options = RejectsOptions(dir);
  options.input = dir.Write(
      "users.jsonl", R"({"id": 1, "image_url": "http://user:secret@host/x?token=abc"})"
                     "\n"
                     R"({"id": false, "name": "b", "image_url": "https://h/y#frag-secret"})"
                     "\n"
                     R"({"id": 3, "image_url": "http:\/\/u:pw2@h\/z?sig=s3cr3t&k=tk9q", broken)"
                     "\n"
                     R"({"id": 4, "name": "c", "image_url": "http://ok.example/4.jpg"})"
                     "\n");
  fs::create_directory(dir / "out");
  UserStore store;
  Rejects file(RejectsPath(dir));
  Result<LoadStats> stats = LoadInput(options, store, file);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->bad_records, 3u);
  ASSERT_TRUE(file.Publish().ok());
  const std::string rejects = ReadFile(dir / "out" / "rejects.jsonl");
  for (const char* secret : {"secret", "abc", "frag-secret", "pw2", "s3cr3t", "tk9q"}) {
    EXPECT_EQ(rejects.find(secret), std::string::npos) << secret << " in " << rejects;
  }
  EXPECT_NE(rejects.find("http://user:***@host/x?token=***"), std::string::npos) << rejects;
  EXPECT_NE(rejects.find("https://h/y#***"), std::string::npos) << rejects;
  EXPECT_NE(rejects.find("sig=***&k=***"), std::string::npos) << rejects;
}

// A run refused after loading (e.g. --overwrite with a --bind in use) must leave the earlier
// run's rejects.jsonl as it was: the new one is a temporary file until published.
TEST(InputStageTest, RejectsReplaceTheEarlierOnlyWhenPublished) {
  TempDir dir;
  fs::create_directory(dir / "out");
  const std::string earlier = dir.Write("out/rejects.jsonl", "earlier\n");
  {
    UserStore store;
    Rejects rejects(RejectsPath(dir));
    ASSERT_TRUE(LoadInput(RejectsOptions(dir), store, rejects).ok());
    EXPECT_EQ(ReadFile(earlier), "earlier\n");
  }  // never published: the temporary file goes
  EXPECT_EQ(ReadFile(earlier), "earlier\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator()), 1);
}

TEST(InputStageTest, RefusesARejectsSymlink) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "precious");
  fs::create_directory(dir / "out");
  fs::create_symlink(victim, dir / "out" / "rejects.jsonl");
  UserStore store;
  Rejects rejects(RejectsPath(dir));
  Result<LoadStats> stats = LoadInput(RejectsOptions(dir), store, rejects);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kIo);
  EXPECT_NE(stats.status().message().find("symbolic link"), std::string::npos)
      << stats.status().message();
  EXPECT_EQ(ReadFile(victim), "precious");
}

}  // namespace
}  // namespace pixelmill
