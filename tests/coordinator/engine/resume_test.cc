// --resume end to end: the real coordinator continues an earlier run in its folder after damage
// (a torn manifest, a deleted image) or a SIGKILL, and ends with exactly one line per user;
// a finished run is left alone; a changed input is refused unless --resume-anyway.
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::JsonAt;
using testing::JsonInt;
using testing::ReadFile;
using testing::WaitFor;

class ResumeTest : public testing::CoordinatorRun {
 protected:
  bool StderrHas(const std::string& part) const { return Stderr().find(part) != std::string::npos; }
  std::string RunState() const { return ReadFile(dir_ / "out" / "run.json"); }
  fs::path Image(int id) const { return dir_ / "out" / "images" / (std::to_string(id) + ".jpg"); }
  int Run(const std::vector<std::string>& flags) {
    std::vector<std::string> all = {"--filter", "none"};
    all.insert(all.end(), flags.begin(), flags.end());
    return ExitCode(Start(all)->Wait(60));
  }
};

TEST_F(ResumeTest, DamagedUsersAreRedoneAndEveryUserEndsWithOneLine) {
  Users(20);
  ASSERT_EQ(Run({}), 0) << Stderr();
  const std::map<int64_t, std::string> first = Manifest();
  ASSERT_EQ(first.size(), 20u);
  EXPECT_EQ(JsonAt(RunState(), "/complete"), "true") << RunState();

  // Damage: the last line torn mid-way (as by a crash mid-append), one image deleted.
  const fs::path manifest = dir_ / "out" / "manifest.jsonl";
  std::string text = ReadFile(manifest);
  const size_t last_start = text.rfind('\n', text.size() - 2) + 1;
  const int64_t torn_id = JsonInt(text.substr(last_start), "/id");
  text.resize(last_start + (text.size() - last_start) / 2);
  dir_.Write("out/manifest.jsonl", text);
  const int64_t deleted_id = torn_id == 3 ? 4 : 3;
  ASSERT_TRUE(fs::remove(Image(static_cast<int>(deleted_id))));

  ASSERT_EQ(Run({"--resume"}), 0) << Stderr();
  EXPECT_TRUE(StderrHas("cut a torn end off manifest.jsonl (1 line(s)")) << Stderr();
  EXPECT_TRUE(StderrHas("18 ok kept, 0 failed kept, 2 user(s) to do")) << Stderr();
  EXPECT_TRUE(StderrHas("done: 20 users, 20 ok (18 skipped), 0 failed")) << Stderr();
  EXPECT_EQ(ManifestLines(), 20u);
  const std::map<int64_t, std::string> second = Manifest();  // fails on a repeated id
  ASSERT_EQ(second.size(), 20u);
  for (const auto& [id, line] : first) {
    if (id == torn_id || id == deleted_id) continue;
    EXPECT_EQ(second.at(id), line) << "an intact user's line changed";
  }
  EXPECT_EQ(JsonAt(second.at(deleted_id), "/status"), "ok") << second.at(deleted_id);
  EXPECT_TRUE(fs::is_regular_file(Image(static_cast<int>(deleted_id)))) << "not redone";
  EXPECT_EQ(JsonAt(Report(), "/ok"), "20") << Report();
  EXPECT_EQ(JsonAt(Report(), "/skipped"), "18") << Report();
  EXPECT_EQ(JsonAt(Report(), "/download/requests"), "2")
      << "only the damaged users are downloaded: " << Report();
  EXPECT_EQ(JsonAt(RunState(), "/complete"), "true") << RunState();
}

TEST_F(ResumeTest, AFinishedRunHasNothingToResumeAndIsNotChanged) {
  Users(6, [](int id) { return id == 2 ? "?status=404" : ""; });
  ASSERT_EQ(Run({}), 3) << Stderr();
  const std::string manifest = ReadFile(dir_ / "out" / "manifest.jsonl");
  const auto image_time = fs::last_write_time(Image(0));

  ASSERT_EQ(Run({"--resume"}), 3) << Stderr();
  EXPECT_TRUE(StderrHas("nothing to resume: every user already has its line (5 ok, 1 failed)"))
      << Stderr();
  EXPECT_TRUE(StderrHas("done: 6 users, 5 ok (5 skipped), 1 failed")) << Stderr();
  EXPECT_EQ(ReadFile(dir_ / "out" / "manifest.jsonl"), manifest);
  EXPECT_EQ(fs::last_write_time(Image(0)), image_time);
  EXPECT_EQ(JsonAt(Report(), "/download/requests"), "0") << Report();
  EXPECT_EQ(JsonAt(Report(), "/failed"), "1") << Report();
}

TEST_F(ResumeTest, RetryFailedRedoesOnlyTheFailedUsers) {
  Users(6, [](int id) { return id == 2 ? "?status=503&fail_times=1" : ""; });
  ASSERT_EQ(Run({"--retries", "0"}), 3) << Stderr();
  ASSERT_EQ(JsonAt(Manifest().at(2), "/status"), "failed") << Manifest().at(2);

  ASSERT_EQ(Run({"--resume", "--retry-failed"}), 0) << Stderr();
  EXPECT_TRUE(StderrHas("done: 6 users, 6 ok (5 skipped), 0 failed")) << Stderr();
  EXPECT_EQ(ManifestLines(), 6u) << "the earlier failed line is not compacted away";
  EXPECT_EQ(JsonAt(Manifest().at(2), "/status"), "ok") << Manifest().at(2);
  EXPECT_EQ(JsonAt(Report(), "/download/requests"), "1") << Report();
}

// SIGKILL mid-run: whatever it left (a torn line, temporary files, users without a line), a
// resume finishes the job with one line per user.
TEST_F(ResumeTest, AKilledRunIsFinishedByResume) {
  Users(40, [](int) { return "?latency=100"; });
  auto run = Start({"--filter", "none", "--concurrency", "4"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 8; }, 30)) << Stderr();
  ASSERT_EQ(::kill(run->pid(), SIGKILL), 0);
  run->Wait(10);
  const size_t before = ManifestLines();
  ASSERT_LT(before, 40u) << "finished before the kill";
  EXPECT_EQ(JsonAt(RunState(), "/complete"), "false") << RunState();

  ASSERT_EQ(Run({"--resume"}), 0) << Stderr();
  EXPECT_EQ(ManifestLines(), 40u);
  EXPECT_EQ(Manifest().size(), 40u);
  EXPECT_TRUE(StderrHas("done: 40 users, 40 ok (" + std::to_string(before) + " skipped)"))
      << Stderr();
  for (const auto& entry : fs::directory_iterator(dir_ / "out" / "images")) {
    EXPECT_NE(entry.path().filename().string().front(), '.') << "temp file left";
  }
}

TEST_F(ResumeTest, AChangedInputIsRefusedUnlessResumeAnyway) {
  Users(5);
  ASSERT_EQ(Run({}), 0) << Stderr();
  const std::string manifest = ReadFile(dir_ / "out" / "manifest.jsonl");
  Users(7);

  ASSERT_EQ(Run({"--resume", "--quality", "50"}), 1);
  EXPECT_TRUE(StderrHas("cannot resume the run in")) << Stderr();
  EXPECT_TRUE(StderrHas("input file changed: size")) << Stderr();
  EXPECT_TRUE(StderrHas("--quality changed: 85 -> 50")) << Stderr();
  EXPECT_TRUE(StderrHas("--resume-anyway")) << Stderr();
  EXPECT_EQ(ReadFile(dir_ / "out" / "manifest.jsonl"), manifest) << "touched though refused";

  ASSERT_EQ(Run({"--resume-anyway"}), 0) << Stderr();
  EXPECT_TRUE(StderrHas("resuming anyway")) << Stderr();
  EXPECT_TRUE(StderrHas("input file changed: size")) << Stderr();
  EXPECT_EQ(Manifest().size(), 7u);
  EXPECT_EQ(JsonAt(Report(), "/skipped"), "5") << Report();

  // run.json now describes the new input: a plain resume of it is accepted.
  ASSERT_EQ(Run({"--resume"}), 0) << Stderr();
  EXPECT_TRUE(StderrHas("nothing to resume")) << Stderr();
}

TEST_F(ResumeTest, UsersDroppedFromTheInputLoseTheirLinesWithResumeAnyway) {
  Users(6);
  ASSERT_EQ(Run({}), 0) << Stderr();
  Users(4);
  ASSERT_EQ(Run({"--resume-anyway"}), 0) << Stderr();
  EXPECT_TRUE(StderrHas("2 line(s) of ids not in the input will go")) << Stderr();
  EXPECT_EQ(Manifest().size(), 4u);
  EXPECT_EQ(ManifestLines(), 4u);
}

// The resume command printed for a run that read standard input works when fed the same users,
// and is refused for other users.
TEST_F(ResumeTest, StandardInputResumesWithTheSameUsers) {
  Users(3);
  const std::string command = testing::kCoordinatorBinary + " --input - --output " +
                              (dir_ / "out").string() +
                              " --allow-private-networks --filter none 2>" +
                              (dir_ / "stderr").string() + " < " + (dir_ / "users.jsonl").string();
  const auto run = [&](const std::string& flags) {
    const int status = std::system((command + " " + flags).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  ASSERT_EQ(run(""), 0) << Stderr();
  EXPECT_EQ(run("--resume"), 0) << Stderr();
  EXPECT_TRUE(StderrHas("nothing to resume")) << Stderr();
  Users(4);
  EXPECT_EQ(run("--resume"), 1);
  EXPECT_TRUE(StderrHas("the users on standard input changed: count 3 -> 4")) << Stderr();
  EXPECT_EQ(run("--resume-anyway"), 0) << Stderr();
}

TEST_F(ResumeTest, ResumeOfAnEmptyFolderStartsAfresh) {
  Users(3);
  ASSERT_EQ(Run({"--resume"}), 0) << Stderr();
  EXPECT_TRUE(StderrHas("holds no earlier run to resume; starting afresh")) << Stderr();
  EXPECT_EQ(Manifest().size(), 3u);
}

TEST_F(ResumeTest, ARerunWithoutFlagsNamesBothWaysOn) {
  Users(2);
  ASSERT_EQ(Run({}), 0) << Stderr();
  ASSERT_EQ(Run({}), 1);
  EXPECT_TRUE(StderrHas("--resume to continue it")) << Stderr();
  EXPECT_TRUE(StderrHas("--overwrite to delete it")) << Stderr();
}

TEST_F(ResumeTest, ContradictoryFlagsAreUsageErrors) {
  Users(2);
  EXPECT_EQ(Run({"--resume", "--overwrite"}), 2);
  EXPECT_TRUE(StderrHas("cannot go together")) << Stderr();
  EXPECT_EQ(Run({"--resume-anyway", "--overwrite"}), 2);
  EXPECT_EQ(Run({"--retry-failed"}), 2);
  EXPECT_TRUE(StderrHas("--retry-failed needs --resume")) << Stderr();
  EXPECT_FALSE(fs::exists(dir_ / "out")) << "a usage error must not touch the output";
}

}  // namespace
}  // namespace pixelmill
