// OutputDir::Prepare: an earlier run is never silently destroyed, --overwrite deletes only
// pixelmill's files, and two runs cannot share one output folder.
#include "coordinator/output/output_dir.h"

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "coordinator/output/output_layout.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(OutputDirTest, CreatesAMissingFolderWithImages) {
  TempDir dir;
  const fs::path out = dir / "a" / "b" / "out";
  Result<OutputDir> prepared = OutputDir::Prepare(out.string(), OutputMode::kFresh);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->path(), out.string());
  EXPECT_TRUE(fs::is_directory(out / OutputLayout::kImages));
  EXPECT_EQ(ReadFile(out / OutputLayout::kLock), std::to_string(::getpid()) + "\n");
}

TEST(OutputDirTest, AcceptsAFolderWithOnlyUnrelatedFiles) {
  TempDir dir;
  dir.Write("README", "my notes");
  fs::create_directory(dir / OutputLayout::kImages);  // empty: no earlier run
  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(ReadFile(dir / "README"), "my notes");
}

TEST(OutputDirTest, RefusesAFolderHoldingARun) {
  TempDir dir;
  dir.Write("manifest.jsonl", "{\"id\":1}\n{\"id\":2}\n");
  fs::create_directory(dir / OutputLayout::kImages);
  dir.Write("images/1.jpg", "jpeg");
  dir.Write("images/2.png", "png");
  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), Code::kExists);
  const std::string& message = prepared.status().message();
  EXPECT_TRUE(Contains(message, "--overwrite")) << message;
  EXPECT_TRUE(Contains(message, "--resume to continue it")) << message;
  EXPECT_TRUE(Contains(message, "manifest.jsonl of 18 bytes")) << message;
  EXPECT_TRUE(Contains(message, "2 file(s) in images/")) << message;
  EXPECT_TRUE(Contains(message, dir.path().string())) << message;
  EXPECT_EQ(ReadFile(dir / OutputLayout::kManifest), "{\"id\":1}\n{\"id\":2}\n") << "run destroyed";
  EXPECT_TRUE(fs::exists(dir / OutputLayout::kImages / "1.jpg"));
}

TEST(OutputDirTest, EachRunFileCountsAsARun) {
  for (const std::string name : {"manifest.jsonl", "rejects.jsonl", "run.json", "images/7.jpg"}) {
    TempDir dir;
    fs::create_directory(dir / OutputLayout::kImages);
    dir.Write(name, "");
    Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
    ASSERT_FALSE(prepared.ok()) << name;
    EXPECT_EQ(prepared.status().code(), Code::kExists) << name;
  }
}

TEST(OutputDirTest, OverwriteDeletesOnlyTheEarlierRun) {
  TempDir dir;
  dir.Write("manifest.jsonl", "{\"id\":1}\n");
  dir.Write("rejects.jsonl", "{\"line\":3}\n");
  dir.Write("run.json", "{}");
  dir.Write("README", "my notes");
  fs::create_directory(dir / OutputLayout::kImages);
  dir.Write("images/1.jpg", "jpeg");
  fs::create_directory(dir / OutputLayout::kImages /
                       "mine");  // not pixelmill's: folders are left alone
  dir.Write("images/mine/keep.txt", "kept");
  const std::string victim = dir.Write("victim", "precious");
  fs::create_symlink(dir / "victim",
                     dir / OutputLayout::kImages / "2.jpg");  // removed, not followed

  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kOverwrite);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_FALSE(fs::exists(dir / OutputLayout::kManifest));
  EXPECT_FALSE(fs::exists(dir / OutputLayout::kRejects));
  EXPECT_FALSE(fs::exists(dir / OutputLayout::kRunState));
  EXPECT_FALSE(fs::exists(dir / OutputLayout::kImages / "1.jpg"));
  EXPECT_FALSE(fs::is_symlink(dir / OutputLayout::kImages / "2.jpg"));
  EXPECT_EQ(ReadFile(victim), "precious");
  EXPECT_EQ(ReadFile(dir / "README"), "my notes");
  EXPECT_EQ(ReadFile(dir / OutputLayout::kImages / "mine" / "keep.txt"), "kept");
}

TEST(OutputDirTest, ASymlinkedImagesFolderIsRefused) {
  TempDir dir;
  fs::create_directory(dir / "elsewhere");
  dir.Write("elsewhere/precious.jpg", "precious");
  fs::create_directory(dir / "out");
  fs::create_directory_symlink(dir / "elsewhere", dir / "out" / OutputLayout::kImages);
  for (OutputMode mode : {OutputMode::kFresh, OutputMode::kOverwrite, OutputMode::kResume}) {
    Result<OutputDir> prepared = OutputDir::Prepare((dir / "out").string(), mode);
    ASSERT_FALSE(prepared.ok());
    EXPECT_TRUE(Contains(prepared.status().message(), "symbolic link"))
        << prepared.status().message();
  }
  EXPECT_EQ(ReadFile(dir / "elsewhere" / "precious.jpg"), "precious");
}

TEST(OutputDirTest, ASymlinkedLockFileIsRefused) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "precious");
  fs::create_directory(dir / "out");
  fs::create_symlink(victim, dir / "out" / OutputLayout::kLock);
  Result<OutputDir> prepared = OutputDir::Prepare((dir / "out").string(), OutputMode::kFresh);
  ASSERT_FALSE(prepared.ok());
  EXPECT_TRUE(Contains(prepared.status().message(), "symbolic link"))
      << prepared.status().message();
  EXPECT_EQ(ReadFile(victim), "precious");
}

// flock() locks belong to an open file description, so a second Prepare in this same process
// conflicts with the first just as another process would.
TEST(OutputDirTest, ASecondRunOnTheFolderIsBusyUntilTheFirstEnds) {
  TempDir dir;
  std::optional<Result<OutputDir>> first =
      OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_TRUE(first->ok()) << first->status().ToString();

  for (OutputMode mode : {OutputMode::kFresh, OutputMode::kOverwrite, OutputMode::kResume}) {
    Result<OutputDir> second = OutputDir::Prepare(dir.path().string(), mode);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Code::kBusy);
    const std::string& message = second.status().message();
    EXPECT_TRUE(Contains(message, "pid " + std::to_string(::getpid()))) << message;
    EXPECT_TRUE(Contains(message, "in use by another pixelmill run")) << message;
  }

  // Moving the claim keeps the lock; destroying it releases it.
  OutputDir moved = std::move(first->value());
  first.reset();
  Result<OutputDir> while_moved = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_FALSE(while_moved.ok());
  EXPECT_EQ(while_moved.status().code(), Code::kBusy);
  { OutputDir gone = std::move(moved); }
  Result<OutputDir> again = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(OutputDirTest, BusySaysPidUnknownWhenTheLockFileIsUnreadable) {
  TempDir dir;
  Result<OutputDir> first = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_TRUE(first.ok());
  dir.Write(".lock", "garbage");  // same inode: the lock stays held
  Result<OutputDir> second = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(Contains(second.status().message(), "pid unknown")) << second.status().message();
}

TEST(OutputDirTest, AFileInTheWayIsAnIoError) {
  TempDir dir;
  const std::string file = dir.Write("out", "a file, not a folder");
  Result<OutputDir> prepared = OutputDir::Prepare(file, OutputMode::kFresh);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), Code::kIo);
}

}  // namespace
}  // namespace pixelmill
