// --shard, `coordinator merge` and --fan-out end to end: the real coordinator, workers and the
// image-api fixture. Three shards of one input merge into the lines of one whole run; a merge
// refuses a missing, unfinished, mismatched or damaged shard, naming it; fanned-out images
// resume and are cleared by --overwrite.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/input/shard.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::JsonAt;
using testing::JsonInt;
using testing::ManifestById;
using testing::ReadFile;

constexpr int kUsers = 300;

class ShardMergeTest : public testing::CoordinatorRun {
 protected:
  // Users 0..kUsers-1: every 4th on one of 10 shared URLs (dedupe), every 37th from 5 on a 404;
  // then a bad record and a second line for id 7.
  void SetUp() override {
    CoordinatorRun::SetUp();
    std::string text;
    for (int i = 0; i < kUsers; ++i) {
      const std::string path = i % 4 == 0    ? "/img/" + std::to_string(1000 + i % 10) + ".jpg"
                               : i % 37 == 5 ? "/img/" + std::to_string(i) + ".jpg?status=404"
                                             : "/img/" + std::to_string(i) + ".jpg";
      text += R"({"id": )" + std::to_string(i) + R"(, "name": "u", "image_url": ")" +
              api_.Url(path) + "\"}\n";
    }
    text += "{\"id\": [\"seven\"], \"name\": \"u\", \"image_url\": \"http://x/\"}\n";
    text += R"({"id": 7, "name": "again", "image_url": "http://x/7.jpg"})"
            "\n";
    dir_.Write("users.jsonl", text);
  }

  // Runs the coordinator on users.jsonl into `folder` with `flags`; its exit code.
  int RunInto(const std::string& folder, std::vector<std::string> flags) {
    std::vector<std::string> argv = {testing::kCoordinatorBinary,
                                     "--input",
                                     (dir_ / "users.jsonl").string(),
                                     "--output",
                                     (dir_ / folder).string(),
                                     "--allow-private-networks",
                                     "--max-bad-records",
                                     "5",
                                     "--retries",
                                     "0",
                                     "--workers",
                                     "1",
                                     "--quiet"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return ExitCode(
        testing::ChildProcess(argv, dir_ / (folder + ".out"), dir_ / (folder + ".err")).Wait(120));
  }
  // A shard's run, finished: 0 (every user ok) or 3 (some failed: whether any of the 404s is
  // its is up to the hash), as a bool.
  bool Shard(int k, const std::string& filter = "blur:1", std::vector<std::string> more = {}) {
    std::vector<std::string> flags = {"--shard", std::to_string(k) + "/3", "--filter", filter};
    flags.insert(flags.end(), more.begin(), more.end());
    const int code = RunInto("s" + std::to_string(k), flags);
    return code == 0 || code == 3;
  }
  // `coordinator merge ARGS` (folders relative to the test's); its exit code, stderr in merge.err.
  int Merge(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {testing::kCoordinatorBinary, "merge"};
    for (const std::string& arg : args) {
      argv.push_back(arg.starts_with("--") ? arg : (dir_ / arg).string());
    }
    return ExitCode(testing::ChildProcess(argv, dir_ / "merge.out", dir_ / "merge.err").Wait(60));
  }
  std::string MergeErr() const { return ReadFile(dir_ / "merge.err"); }
  std::map<int64_t, std::string> Lines(const std::string& folder) const {
    std::vector<std::string> problems;
    auto lines = ManifestById(dir_ / folder / "manifest.jsonl", &problems);
    EXPECT_TRUE(problems.empty()) << folder << ": " << problems.front();
    return lines;
  }
  static int64_t Size(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
  }
  static ino_t Inode(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }
  // Every ok line of `folder`'s manifest names, from `folder`, a file of its bytes.
  void ExpectImagesIntact(const std::string& folder) {
    for (const auto& [id, line] : Lines(folder)) {
      if (JsonAt(line, "/status") != "ok") continue;
      EXPECT_EQ(Size(dir_ / folder / JsonAt(line, "/output")), JsonInt(line, "/bytes")) << line;
    }
  }
  void RunAllShards() {
    for (int k = 0; k < 3; ++k)
      ASSERT_TRUE(Shard(k)) << ReadFile(dir_ / ("s" + std::to_string(k) + ".err"));
  }
};

TEST_F(ShardMergeTest, ThreeShardsMergeIntoTheLinesOfOneWholeRun) {
  ASSERT_EQ(RunInto("whole", {"--filter", "blur:1"}), 3) << ReadFile(dir_ / "whole.err");
  RunAllShards();
  // Each shard took its users only, and the bad record went to shard 0 alone.
  for (int k = 0; k < 3; ++k) {
    for (const auto& [id, line] : Lines("s" + std::to_string(k))) EXPECT_EQ(ShardOf(id, 3), k);
  }
  EXPECT_TRUE(fs::exists(dir_ / "s0" / "rejects.jsonl"));

  ASSERT_EQ(Merge({"--output", "all", "s2", "s0", "s1"}), 0) << MergeErr();
  const auto whole = Lines("whole");
  const auto all = Lines("all");
  ASSERT_EQ(all.size(), static_cast<size_t>(kUsers));
  ASSERT_EQ(whole.size(), all.size());
  size_t failed = 0, deduplicated = 0;
  for (const auto& [id, line] : all) {
    ASSERT_EQ(whole.count(id), 1u) << id;
    EXPECT_EQ(JsonAt(line, "/status"), JsonAt(whole.at(id), "/status")) << line;
    failed += JsonAt(line, "/status") == "failed";
    if (JsonAt(line, "/status") == "failed") {
      EXPECT_EQ(JsonAt(line, "/error/code"), "http_status");
    }
    if (testing::JsonHas(line, "/deduplicated_from")) {
      // Its leader is in its own shard, and so in the merge.
      const int64_t leader = JsonInt(line, "/deduplicated_from");
      ++deduplicated;
      EXPECT_EQ(all.count(leader), 1u) << line;
      EXPECT_EQ(ShardOf(leader, 3), ShardOf(id, 3)) << line;
    }
  }
  EXPECT_GT(failed, 0u);
  EXPECT_GT(deduplicated, 0u);
  ExpectImagesIntact("all");
  EXPECT_TRUE(JsonAt(all.at(1), "/output").starts_with("../s")) << all.at(1);
  // Both records skipped (the bad one, shard 0's; the second id 7, its shard's) once each.
  const std::string rejects = ReadFile(dir_ / "all" / "rejects.jsonl");
  EXPECT_EQ(std::count(rejects.begin(), rejects.end(), '\n'), 2) << rejects;

  const std::string report = ReadFile(dir_ / "all" / "report.json");
  EXPECT_EQ(JsonInt(report, "/users"), kUsers);
  EXPECT_EQ(JsonInt(report, "/ok") + JsonInt(report, "/failed"), kUsers);
  EXPECT_EQ(JsonInt(report, "/failed"), static_cast<int64_t>(failed));
  EXPECT_EQ(JsonInt(report, "/failed_by_code/http_status"), static_cast<int64_t>(failed));
  EXPECT_EQ(JsonInt(report, "/input_records"), kUsers + 2);
  EXPECT_EQ(JsonInt(report, "/bad_records"), 2);
  EXPECT_EQ(JsonInt(report, "/shards"), 3);
  EXPECT_EQ(JsonAt(report, "/by_shard/2/shard"), "2/3");
  EXPECT_GT(testing::JsonDouble(report, "/wall_s"), 0);
  EXPECT_GT(JsonInt(report, "/download/count"), 0);

  // --link: every image in all2/images, the shard's very file; a rerun is the same merge.
  ASSERT_EQ(Merge({"--output", "all2", "--link", "s0", "s1", "s2"}), 0) << MergeErr();
  ASSERT_EQ(Merge({"--output", "all2", "--link", "s0", "s1", "s2"}), 0) << MergeErr();
  const auto linked = Lines("all2");
  ASSERT_EQ(linked.size(), static_cast<size_t>(kUsers));
  for (const auto& [id, line] : linked) {
    if (JsonAt(line, "/status") != "ok") continue;
    EXPECT_EQ(JsonAt(line, "/output"), "images/" + std::to_string(id) + ".jpg");
    EXPECT_EQ(Inode(dir_ / "all2" / JsonAt(line, "/output")),
              Inode(dir_ / "all" / JsonAt(all.at(id), "/output")))
        << line;
  }
  // --move, then again: the images found moved already count.
  ASSERT_EQ(Merge({"--output", "all3", "--move", "s0", "s1", "s2"}), 0) << MergeErr();
  ASSERT_EQ(Merge({"--output", "all3", "--move", "s0", "s1", "s2"}), 0) << MergeErr();
  EXPECT_EQ(Lines("all3").size(), static_cast<size_t>(kUsers));
  ExpectImagesIntact("all3");
  EXPECT_EQ(ReadFile(dir_ / "all3" / "manifest.jsonl"), ReadFile(dir_ / "all2" / "manifest.jsonl"));
}

TEST_F(ShardMergeTest, AMergeRefusesAMissingUnfinishedMismatchedOrDamagedShardNamingIt) {
  ASSERT_TRUE(Shard(0));
  ASSERT_TRUE(Shard(1));
  ASSERT_TRUE(Shard(2, "blur:2"));
  // --resume of another shard's folder is refused, even anyway.
  EXPECT_EQ(RunInto("s0", {"--shard", "1/3", "--filter", "blur:1", "--resume-anyway"}), 1);
  EXPECT_NE(
      ReadFile(dir_ / "s0.err").find("holds the run of shard 0/3, and this run takes shard 1/3"),
      std::string::npos)
      << ReadFile(dir_ / "s0.err");

  EXPECT_EQ(Merge({"--output", "all", "s0", "s1"}), 1);
  EXPECT_NE(MergeErr().find("shard 2/3 is missing"), std::string::npos) << MergeErr();
  EXPECT_EQ(Merge({"--output", "all", "s0", "s0", "s1", "s2"}), 1);
  EXPECT_NE(MergeErr().find("shard 0/3 is given twice"), std::string::npos) << MergeErr();
  EXPECT_EQ(Merge({"--output", "all", "s0", "s1", "s2"}), 1);
  EXPECT_NE(MergeErr().find("filter changed: blur:1 -> blur:2"), std::string::npos) << MergeErr();
  EXPECT_NE(MergeErr().find("shard 2/3"), std::string::npos) << MergeErr();
  EXPECT_EQ(Merge({"--output", "all", "s0", "s1", "nowhere"}), 1);
  EXPECT_NE(MergeErr().find("nowhere"), std::string::npos) << MergeErr();
  EXPECT_EQ(Merge({"--output", "s1", "s0", "s1"}), 2);

  ASSERT_TRUE(Shard(2, "blur:1", {"--overwrite"}));
  // Unfinished: run.json says so.
  const std::string state = ReadFile(dir_ / "s1" / "run.json");
  std::string unfinished = state;
  unfinished.replace(unfinished.find("\"complete\":true"), 15, "\"complete\":false");
  dir_.Write("s1/run.json", unfinished);
  EXPECT_EQ(Merge({"--output", "all", "s0", "s1", "s2"}), 1);
  EXPECT_NE(MergeErr().find("shard 1/3"), std::string::npos) << MergeErr();
  EXPECT_NE(MergeErr().find("unfinished"), std::string::npos) << MergeErr();
  dir_.Write("s1/run.json", state);
  // Damaged: an ok image gone.
  std::string gone;
  for (const auto& [id, line] : Lines("s1")) {
    if (JsonAt(line, "/status") == "ok") {
      gone = JsonAt(line, "/output");
      break;
    }
  }
  ASSERT_FALSE(gone.empty());
  fs::remove(dir_ / "s1" / gone);
  EXPECT_EQ(Merge({"--output", "all", "s0", "s1", "s2"}), 1);
  EXPECT_NE(MergeErr().find(gone), std::string::npos) << MergeErr();
  EXPECT_FALSE(fs::exists(dir_ / "all" / "manifest.jsonl"));  // a refused merge writes nothing

  // The shard resumed redoes that user; then the merge goes through.
  ASSERT_TRUE(Shard(1, "blur:1", {"--resume"})) << ReadFile(dir_ / "s1.err");
  ASSERT_EQ(Merge({"--output", "all", "s0", "s1", "s2"}), 0) << MergeErr();
  EXPECT_EQ(Lines("all").size(), static_cast<size_t>(kUsers));
  ExpectImagesIntact("all");
}

TEST_F(ShardMergeTest, FannedOutImagesResumeAndOverwriteClearsThem) {
  ASSERT_EQ(RunInto("out", {"--fan-out", "always", "--filter", "none"}), 3);
  const auto lines = Lines("out");
  ASSERT_EQ(lines.size(), static_cast<size_t>(kUsers));
  for (const auto& [id, line] : lines) {
    if (JsonAt(line, "/status") != "ok") continue;
    EXPECT_EQ(JsonAt(line, "/output"),
              "images/" + FanOutFolder(id) + "/" + std::to_string(id) + ".jpg");
  }
  ExpectImagesIntact("out");
  // A resume trusts the fanned-out files (and keeps the layout under auto).
  ASSERT_EQ(RunInto("out", {"--resume", "--filter", "none"}), 3) << ReadFile(dir_ / "out.err");
  EXPECT_EQ(Lines("out"), lines);
  EXPECT_NE(ReadFile(dir_ / "out.err").find("(0 requests"), std::string::npos)
      << ReadFile(dir_ / "out.err");
  // --overwrite into one folder: the subfolders go with the earlier run.
  ASSERT_EQ(RunInto("out", {"--overwrite", "--fan-out", "never", "--filter", "none"}), 3);
  for (const auto& entry : fs::directory_iterator(dir_ / "out" / "images")) {
    EXPECT_FALSE(entry.is_directory()) << entry.path();
  }
  ExpectImagesIntact("out");
}

}  // namespace
}  // namespace pixelmill
