// A run refused before it starts leaves the output folder as it found it, and never writes the
// --report or --progress-file over something it must not: a mistyped --input or --bind, a port
// in use, a bad record under --overwrite, report and progress paths naming the run's own files
// or a device. Real coordinator, real fixture server; every wait is bounded.
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::JsonAt;
using testing::ReadFile;

class RefusedRunTest : public testing::CoordinatorRun {
 protected:
  // Runs the coordinator with exactly `argv` after the binary; returns its exit code.
  int Run(std::vector<std::string> argv) {
    argv.insert(argv.begin(), testing::kCoordinatorBinary);
    testing::ChildProcess child(argv, dir_ / "stdout", dir_ / "stderr");
    return ExitCode(child.Wait(60));
  }
  std::vector<std::string> Flags(const std::string& input, const std::string& out) const {
    return {"--input", input, "--output", out, "--allow-private-networks", "--filter", "none"};
  }
  // Every file under `folder` (but .lock) with its size and a hash of its bytes, to compare a
  // folder before and after.
  static std::map<std::string, std::string> Snapshot(const fs::path& folder) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
      if (entry.path().filename() == ".lock") continue;  // each run writes its pid there
      files[entry.path().lexically_relative(folder).string()] =
          entry.is_regular_file() ? std::to_string(std::hash<std::string>()(ReadFile(entry.path())))
                                  : "<folder>";
    }
    return files;
  }
  bool StderrHas(const std::string& text) const { return Stderr().find(text) != std::string::npos; }
};

TEST_F(RefusedRunTest, AMissingInputLeavesNoFolderBehind) {
  const fs::path out = dir_ / "new" / "out";
  EXPECT_EQ(Run(Flags((dir_ / "nope.jsonl").string(), out.string())), 1);
  EXPECT_TRUE(StderrHas("nope.jsonl")) << Stderr();
  EXPECT_FALSE(fs::exists(dir_ / "new")) << "the folder was made for a run that never started";
}

TEST_F(RefusedRunTest, ABadBindIsFoundBeforeTheFolderIsClaimed) {
  const std::string users = Users(2);
  const fs::path out = dir_ / "out";
  std::vector<std::string> flags = Flags(users, out.string());
  flags[flags.size() - 1] = "blur:1";
  flags.insert(flags.end(), {"--workers", "1", "--insecure", "--bind", "tcp://localhost:5555"});
  EXPECT_EQ(Run(flags), 1);
  EXPECT_TRUE(StderrHas("tcp://127.0.0.1:5555")) << "no hint to use an address: " << Stderr();
  EXPECT_FALSE(fs::exists(out));

  // A port in use: held by a socket of this test.
  zmq::context_t context(1);
  zmq::socket_t taken(context, zmq::socket_type::router);
  taken.bind("tcp://127.0.0.1:*");
  flags.back() = taken.get(zmq::sockopt::last_endpoint);
  EXPECT_EQ(Run(flags), 1);
  EXPECT_TRUE(StderrHas("choose another port")) << Stderr();
  EXPECT_FALSE(fs::exists(out));
  // Nothing claimed the folder: the next run into it is not refused.
  EXPECT_EQ(Run(Flags(users, out.string())), 0) << Stderr();
  EXPECT_EQ(Manifest().size(), 2u);
}

// --overwrite deletes the earlier run last: a mistyped input, a bad record or a --bind in use
// leave it whole.
TEST_F(RefusedRunTest, OverwriteDeletesNothingWhenTheRunIsRefused) {
  const std::string users = Users(3);
  const fs::path out = dir_ / "out";
  ASSERT_EQ(Run(Flags(users, out.string())), 0) << Stderr();
  const auto before = Snapshot(out);
  ASSERT_GE(before.size(), 6u);  // images/, 3 images, manifest, run.json

  std::vector<std::string> overwrite = Flags((dir_ / "typo.jsonl").string(), out.string());
  overwrite.push_back("--overwrite");
  EXPECT_EQ(Run(overwrite), 1);
  EXPECT_EQ(Snapshot(out), before) << "a mistyped --input";

  overwrite[1] = dir_.Write("bad.jsonl", "{\"id\": 1, \"name\": \"x\"}\n");
  EXPECT_EQ(Run(overwrite), 1);
  EXPECT_TRUE(StderrHas("image_url")) << Stderr();
  EXPECT_EQ(Snapshot(out), before) << "an input with a bad record";

  zmq::context_t context(1);
  zmq::socket_t taken(context, zmq::socket_type::router);
  taken.bind("tcp://127.0.0.1:*");
  overwrite = Flags(users, out.string());
  overwrite.back() = "blur:1";  // the --filter: workers, so --bind is used
  overwrite.insert(overwrite.end(), {"--overwrite", "--workers", "1", "--insecure", "--bind",
                                     taken.get(zmq::sockopt::last_endpoint)});
  EXPECT_EQ(Run(overwrite), 1);
  EXPECT_EQ(Snapshot(out), before) << "a --bind in use";
}

TEST_F(RefusedRunTest, ReportAndProgressFileNeverNameTheRunsOwnFiles) {
  const std::string users = Users(3);
  const fs::path out = dir_ / "out";
  ASSERT_EQ(Run(Flags(users, out.string())), 0) << Stderr();
  const auto before = Snapshot(out);
  for (const std::string name : {"manifest.jsonl", "run.json", "images/0.jpg", ".lock"}) {
    for (const std::string flag : {"--report", "--progress-file"}) {
      SCOPED_TRACE(flag + " " + name);
      std::vector<std::string> flags = Flags(users, out.string());
      flags.insert(flags.end(), {"--resume", flag, (out / name).string()});
      EXPECT_EQ(Run(flags), 2);
      EXPECT_TRUE(StderrHas("one of the run's own files")) << Stderr();
      EXPECT_EQ(Snapshot(out), before);
    }
  }
  // Through a symlink, too.
  fs::create_symlink(out / "manifest.jsonl", dir_ / "link.json");
  std::vector<std::string> flags = Flags(users, out.string());
  flags.insert(flags.end(), {"--resume", "--report", (dir_ / "link.json").string()});
  EXPECT_EQ(Run(flags), 2);
  EXPECT_EQ(Snapshot(out), before);
}

// A second run refused because the folder is busy must not truncate the progress file it was
// given: the file is opened only once the run has started.
TEST_F(RefusedRunTest, ARefusedRunLeavesItsProgressFileAlone) {
  const std::string users = Users(2);
  const fs::path out = dir_ / "out";
  ASSERT_EQ(Run(Flags(users, out.string())), 0) << Stderr();
  const std::string precious = dir_.Write("progress.jsonl", "precious\n");
  std::vector<std::string> flags = Flags(users, out.string());
  flags.insert(flags.end(), {"--progress-file", precious});
  EXPECT_EQ(Run(flags), 1);  // the folder holds a run: refused
  EXPECT_TRUE(StderrHas("already holds a run")) << Stderr();
  EXPECT_EQ(ReadFile(precious), "precious\n");
}

TEST_F(RefusedRunTest, AReportIsAlwaysARegularFile) {
  const std::string users = Users(2);
  std::vector<std::string> flags = Flags(users, (dir_ / "out").string());
  flags.insert(flags.end(), {"--report", "/dev/null"});
  EXPECT_EQ(Run(flags), 2);
  EXPECT_TRUE(StderrHas("not a regular file")) << Stderr();
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  // A folder that does not exist yet is made, and the run's own exit code is kept.
  flags.back() = (dir_ / "reports" / "deep" / "report.json").string();
  EXPECT_EQ(Run(flags), 0) << Stderr();
  EXPECT_EQ(JsonAt(ReadFile(dir_ / "reports" / "deep" / "report.json"), "/load/users"), "2");

  // A bare file name is in the current folder (it was "cannot write in  (not a folder)").
  std::vector<std::string> bare = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"",
                                   (dir_ / ".").string(), testing::kCoordinatorBinary};
  bare.insert(bare.end(), flags.begin(), flags.end());
  bare.back() = "here.json";
  bare.push_back("--overwrite");
  testing::ChildProcess child(bare, dir_ / "stdout", dir_ / "stderr");
  EXPECT_EQ(ExitCode(child.Wait(60)), 0) << Stderr();
  EXPECT_EQ(JsonAt(ReadFile(dir_ / "here.json"), "/load/users"), "2");
}

TEST_F(RefusedRunTest, AProgressFileThatCannotBeWrittenIsWarnedAbout) {
  std::vector<std::string> flags = Flags(Users(2), (dir_ / "out").string());
  flags.insert(flags.end(), {"--progress-file", "/dev/full"});
  EXPECT_EQ(Run(flags), 0) << Stderr();
  EXPECT_TRUE(StderrHas("cannot write --progress-file /dev/full")) << Stderr();
}

// A folder standing where a user's image goes fails that user with "write"; the others finish
// and the run ends with exit 3 and a complete manifest.
TEST_F(RefusedRunTest, AFolderAtAnImagesNameFailsThatUserOnly) {
  const std::string users = Users(3);
  fs::create_directories(dir_ / "out" / "images" / "1.jpg");
  EXPECT_EQ(Run(Flags(users, (dir_ / "out").string())), 3) << Stderr();
  const auto lines = Manifest();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(JsonAt(lines.at(1), "/error/code"), "write") << lines.at(1);
  EXPECT_EQ(JsonAt(lines.at(0), "/status"), "ok") << lines.at(0);
  EXPECT_EQ(JsonAt(ReadFile(dir_ / "out" / "run.json"), "/complete"), "true");
}

}  // namespace
}  // namespace pixelmill
