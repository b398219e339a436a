// ReplayManifest and CompactManifest on real files: a torn end is cut, the last line of an id
// wins, a result whose file is missing, resized or a symlink is redone, failed users are kept
// unless retried, unknown ids are counted, and compaction keeps one line per user in order.
#include "coordinator/output/manifest_replay.h"
#include "coordinator/output/output_layout.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

std::string Ok(int64_t id, const std::string& ext, size_t bytes) {
  return "{\"id\":" + std::to_string(id) + ",\"status\":\"ok\",\"output\":\"images/" +
         std::to_string(id) + "." + ext + "\",\"bytes\":" + std::to_string(bytes) +
         ",\"format\":\"x\"}\n";
}

std::string Failed(int64_t id) {
  return "{\"id\":" + std::to_string(id) +
         ",\"status\":\"failed\",\"error\":{\"code\":\"dns\",\"message\":\"no\"},\"attempts\":3}\n";
}

class ManifestReplayTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directory(dir_ / OutputLayout::kImages); }

  void AddUsers(int64_t count) {
    for (int64_t id = 0; id < count; ++id) store_.Add(id, "u", "http://x/" + std::to_string(id));
  }
  // An image of `bytes` bytes for user `id`, as the earlier run saved it.
  void Image(int64_t id, const std::string& ext, size_t bytes) {
    dir_.Write("images/" + std::to_string(id) + "." + ext, std::string(bytes, 'i'));
  }
  std::string Manifest() const { return ReadFile(dir_ / OutputLayout::kManifest); }
  ReplayStats Replay(bool retry_failed = false) {
    Result<ReplayStats> stats =
        ReplayManifest(dir_.path().string(), store_, retry_failed, fan_out_);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? stats.value() : ReplayStats();
  }

  TempDir dir_;
  UserStore store_;
  bool fan_out_ = false;
};

TEST_F(ManifestReplayTest, NoManifestLeavesEveryUserPending) {
  AddUsers(3);
  const ReplayStats stats = Replay();
  EXPECT_EQ(stats.lines, 0u);
  EXPECT_TRUE(stats.compact);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(store_.status(i), UserStatus::kPending);
}

TEST_F(ManifestReplayTest, IntactResultsAreSkippedFailedKeptTheRestRedone) {
  AddUsers(6);
  Image(0, "jpg", 10);
  Image(1, "png", 20);
  Image(2, "jpg", 5);  // recorded as 30 bytes: a different file
  // 3: ok, but its file is gone; 4: failed; 5: no line at all.
  dir_.Write("manifest.jsonl",
             Ok(0, "jpg", 10) + Ok(1, "png", 20) + Ok(2, "jpg", 30) + Ok(3, "webp", 7) + Failed(4));
  const std::string before = Manifest();
  const ReplayStats stats = Replay();
  EXPECT_EQ(store_.status(0), UserStatus::kSkipped);
  EXPECT_EQ(store_.format(0), OutputFormat::kJpeg);
  EXPECT_EQ(OutputLayout::ImagePath(store_.id(0), store_.format(0), false), "images/0.jpg");
  EXPECT_EQ(store_.status(1), UserStatus::kSkipped);
  EXPECT_EQ(store_.format(1), OutputFormat::kPng);
  EXPECT_EQ(store_.status(2), UserStatus::kPending);
  EXPECT_EQ(store_.status(3), UserStatus::kPending);
  EXPECT_EQ(store_.status(4), UserStatus::kFailed);
  EXPECT_EQ(store_.status(5), UserStatus::kPending);
  EXPECT_EQ(stats.lines, 5u);
  EXPECT_EQ(stats.skipped, 2u);
  EXPECT_EQ(stats.failed_kept, 1u);
  EXPECT_EQ(stats.redo, 2u);
  EXPECT_EQ(stats.torn_cut, 0u);
  EXPECT_TRUE(stats.compact);
  EXPECT_EQ(Manifest(), before) << "a whole manifest is not changed";
}

// A fanned-out run's results are where its layout puts them; a flat path is not one of them.
TEST_F(ManifestReplayTest, AFannedOutRunTrustsOnlyItsSubfolders) {
  AddUsers(2);
  fan_out_ = true;
  const std::string fanned = OutputLayout::ImagePath(0, OutputFormat::kJpeg, true);
  fs::create_directories(dir_.path() / OutputLayout::kImages / FanOutFolder(0));
  dir_.Write(fanned, std::string(10, 'i'));
  Image(1, "jpg", 10);  // flat: another layout's
  dir_.Write("manifest.jsonl", "{\"id\":0,\"status\":\"ok\",\"output\":\"" + fanned +
                                   "\",\"bytes\":10,\"format\":\"jpeg\"}\n" + Ok(1, "jpg", 10));
  const ReplayStats stats = Replay();
  EXPECT_EQ(store_.status(0), UserStatus::kSkipped);
  EXPECT_EQ(store_.status(1), UserStatus::kPending);
  EXPECT_EQ(stats.skipped, 1u);
}

TEST_F(ManifestReplayTest, RetryFailedRedoesFailedUsers) {
  AddUsers(2);
  Image(0, "jpg", 10);
  dir_.Write("manifest.jsonl", Ok(0, "jpg", 10) + Failed(1));
  const ReplayStats stats = Replay(/*retry_failed=*/true);
  EXPECT_EQ(store_.status(0), UserStatus::kSkipped);
  EXPECT_EQ(store_.status(1), UserStatus::kPending);
  EXPECT_EQ(stats.failed_kept, 0u);
  EXPECT_EQ(stats.redo, 1u);
}

TEST_F(ManifestReplayTest, ASymlinkOrAForeignPathIsNotAResult) {
  AddUsers(3);
  const std::string elsewhere = dir_.Write("elsewhere.jpg", std::string(10, 'i'));
  fs::create_symlink(elsewhere, dir_ / OutputLayout::kImages / "0.jpg");
  Image(1, "jpg", 10);
  Image(2, "bin", 10);
  dir_.Write(
      "manifest.jsonl",
      Ok(0, "jpg", 10) +
          "{\"id\":1,\"status\":\"ok\",\"output\":\"images/../images/1.jpg\",\"bytes\":10}\n" +
          Ok(2, "bin", 10));
  const ReplayStats stats = Replay();
  EXPECT_EQ(stats.skipped, 0u);
  EXPECT_EQ(stats.redo, 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(store_.status(i), UserStatus::kPending) << i;
}

TEST_F(ManifestReplayTest, TheLastLineOfAnIdWins) {
  AddUsers(3);
  Image(0, "jpg", 10);
  Image(2, "jpg", 12);
  // 0: failed, then ok (kept); 1: ok with its file gone, then failed (kept as failed);
  // 2: ok, then failed, then ok again.
  dir_.Write("manifest.jsonl", Failed(0) + Ok(1, "jpg", 3) + Ok(2, "jpg", 12) + Ok(0, "jpg", 10) +
                                   Failed(1) + Failed(2) + Ok(2, "jpg", 12));
  const ReplayStats stats = Replay();
  EXPECT_EQ(store_.status(0), UserStatus::kSkipped);
  EXPECT_EQ(store_.status(1), UserStatus::kFailed);
  EXPECT_EQ(store_.status(2), UserStatus::kSkipped);
  EXPECT_EQ(stats.lines, 7u);
  EXPECT_EQ(stats.skipped, 2u);
  EXPECT_EQ(stats.failed_kept, 1u);
  EXPECT_FALSE(stats.compact);
}

TEST_F(ManifestReplayTest, ATornLastLineIsCut) {
  AddUsers(3);
  Image(0, "jpg", 10);
  Image(1, "jpg", 11);
  const std::string whole = Ok(0, "jpg", 10);
  const std::string torn = Ok(1, "jpg", 11);
  dir_.Write("manifest.jsonl", whole + torn.substr(0, torn.size() - 1));  // no newline
  const ReplayStats stats = Replay();
  EXPECT_EQ(Manifest(), whole);
  EXPECT_EQ(stats.torn_cut, 1u);
  EXPECT_EQ(stats.torn_bytes, torn.size() - 1);
  EXPECT_EQ(stats.lines, 1u);
  EXPECT_EQ(stats.bad_lines, 0u);
  EXPECT_TRUE(stats.compact);
  EXPECT_EQ(store_.status(0), UserStatus::kSkipped);
  EXPECT_EQ(store_.status(1), UserStatus::kPending) << "an unterminated line is not trusted";
}

TEST_F(ManifestReplayTest, ATornEndOfGarbageLinesIsCut) {
  AddUsers(2);
  Image(0, "jpg", 10);
  const std::string whole = Ok(0, "jpg", 10);
  dir_.Write("manifest.jsonl", whole + "{\"id\":1,\"status\":\n" + std::string(4, '\0'));
  const ReplayStats stats = Replay();
  EXPECT_EQ(Manifest(), whole);
  EXPECT_EQ(stats.torn_cut, 2u);
  EXPECT_EQ(stats.lines, 1u);
}

TEST_F(ManifestReplayTest, ABadLineInTheMiddleStaysUntilCompaction) {
  AddUsers(2);
  Image(0, "jpg", 10);
  Image(1, "jpg", 11);
  dir_.Write("manifest.jsonl", Ok(0, "jpg", 10) + "not json\n" + Ok(1, "jpg", 11));
  const ReplayStats stats = Replay();
  EXPECT_EQ(stats.torn_cut, 0u);
  EXPECT_EQ(stats.bad_lines, 1u);
  EXPECT_EQ(stats.lines, 3u);
  EXPECT_EQ(stats.skipped, 2u);
  EXPECT_FALSE(stats.compact);
  ASSERT_TRUE(CompactManifest(dir_.path().string(), store_).ok());
  EXPECT_EQ(Manifest(), Ok(0, "jpg", 10) + Ok(1, "jpg", 11));
}

TEST_F(ManifestReplayTest, LinesOfUnknownIdsAreCountedAndDroppedAtCompaction) {
  AddUsers(1);
  Image(0, "jpg", 10);
  dir_.Write("manifest.jsonl", Failed(41) + Ok(0, "jpg", 10) + Failed(42));
  const ReplayStats stats = Replay();
  EXPECT_EQ(stats.unknown_ids, 2u);
  EXPECT_EQ(stats.lines, 3u);
  EXPECT_EQ(stats.skipped, 1u);
  EXPECT_FALSE(stats.compact);
  ASSERT_TRUE(CompactManifest(dir_.path().string(), store_).ok());
  EXPECT_EQ(Manifest(), Ok(0, "jpg", 10));
}

TEST_F(ManifestReplayTest, CompactionKeepsEachUsersLastLineInOrder) {
  AddUsers(4);
  const std::string lines[] = {Failed(2), Ok(0, "jpg", 1), Failed(1), Ok(2, "png", 2),
                               Failed(3), Ok(1, "jpg", 3), Failed(0)};
  std::string text;
  for (const std::string& line : lines) text += line;
  dir_.Write("manifest.jsonl", text);
  ASSERT_TRUE(CompactManifest(dir_.path().string(), store_).ok());
  EXPECT_EQ(Manifest(), lines[3] + lines[4] + lines[5] + lines[6]);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"images", "manifest.jsonl"})) << "a temp file left";
}

TEST_F(ManifestReplayTest, ACompactManifestIsNotRewritten) {
  AddUsers(2);
  dir_.Write("manifest.jsonl", Failed(1) + Failed(0));
  const auto inode = [&] {
    struct stat st;
    EXPECT_EQ(::stat((dir_ / OutputLayout::kManifest).c_str(), &st), 0);
    return st.st_ino;
  };
  const ino_t before = inode();
  ASSERT_TRUE(CompactManifest(dir_.path().string(), store_).ok());
  EXPECT_EQ(inode(), before) << "rewritten (renamed over) without need";
  EXPECT_EQ(Manifest(), Failed(1) + Failed(0));
}

// The manifest is replaced by rename: a reader holding the old file still sees it whole, and
// the new one appears complete.
TEST_F(ManifestReplayTest, CompactionReplacesTheManifestAtomically) {
  AddUsers(1);
  dir_.Write("manifest.jsonl", Failed(0) + Failed(0));
  std::ifstream old(dir_ / OutputLayout::kManifest);
  ASSERT_TRUE(CompactManifest(dir_.path().string(), store_).ok());
  std::stringstream held;
  held << old.rdbuf();
  EXPECT_EQ(held.str(), Failed(0) + Failed(0));
  EXPECT_EQ(Manifest(), Failed(0));
}

// Many users across several read chunks, each with two lines: one line each is left.
TEST_F(ManifestReplayTest, ManyUsersStreamThrough) {
  constexpr int64_t kUsers = 100000;
  AddUsers(kUsers);
  std::string failed, ok;
  for (int64_t id = 0; id < kUsers; ++id) failed += Failed(id);
  for (int64_t id = kUsers - 1; id >= 0; --id) ok += Ok(id, "jpg", 1);
  dir_.Write("manifest.jsonl", failed + ok);
  const ReplayStats stats = Replay();
  EXPECT_EQ(stats.lines, 2u * kUsers);
  EXPECT_EQ(stats.redo, static_cast<uint64_t>(kUsers)) << "no image is on disk";
  EXPECT_FALSE(stats.compact);
  ASSERT_TRUE(CompactManifest(dir_.path().string(), store_).ok());
  EXPECT_TRUE(Manifest() == ok) << "not the last line of each user, in order";
}

}  // namespace
}  // namespace pixelmill
