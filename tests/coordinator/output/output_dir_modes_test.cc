// OutputDir::Prepare with --resume: an earlier run is kept to be continued, a folder without one
// starts afresh, and in every mode the temporary files of a killed run are deleted (and only
// those), so none is ever taken for a result.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "coordinator/output/output_dir.h"
#include "coordinator/output/output_layout.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

constexpr const char* kTempName = ".7.jpg.0123456789abcdef.tmp";

TEST(OutputDirModesTest, ResumeKeepsTheEarlierRun) {
  TempDir dir;
  dir.Write("manifest.jsonl", "{\"id\":1}\n");
  dir.Write("run.json", "{}");
  fs::create_directory(dir / OutputLayout::kImages);
  dir.Write("images/1.jpg", "jpeg");
  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kResume);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_TRUE(prepared->resuming());
  EXPECT_EQ(ReadFile(dir / OutputLayout::kManifest), "{\"id\":1}\n");
  EXPECT_EQ(ReadFile(dir / OutputLayout::kRunState), "{}");
  EXPECT_EQ(ReadFile(dir / OutputLayout::kImages / "1.jpg"), "jpeg");
}

TEST(OutputDirModesTest, ResumeWithoutAnEarlierRunStartsAfresh) {
  TempDir dir;
  Result<OutputDir> prepared = OutputDir::Prepare((dir / "out").string(), OutputMode::kResume);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_FALSE(prepared->resuming());
  EXPECT_TRUE(fs::is_directory(dir / "out" / OutputLayout::kImages));
}

TEST(OutputDirModesTest, OnlyFreshAndOverwriteDoNotResume) {
  for (OutputMode mode : {OutputMode::kFresh, OutputMode::kOverwrite}) {
    TempDir dir;
    Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), mode);
    ASSERT_TRUE(prepared.ok());
    EXPECT_FALSE(prepared->resuming());
    OutputDir moved = std::move(prepared.value());
    EXPECT_FALSE(moved.resuming());
  }
  TempDir dir;
  dir.Write("manifest.jsonl", "{\"id\":1}\n");
  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kResume);
  ASSERT_TRUE(prepared.ok());
  OutputDir moved = std::move(prepared.value());
  EXPECT_TRUE(moved.resuming()) << "lost in the move";
}

// A run killed mid-write leaves ".<name>.<16 hex>.tmp" files, in OUT (run.json, the compacted
// manifest) and in images/ (an image saved by rename).
TEST(OutputDirModesTest, EveryModeDeletesLeftoverTempFilesAndNothingElse) {
  for (OutputMode mode : {OutputMode::kFresh, OutputMode::kOverwrite, OutputMode::kResume}) {
    TempDir dir;
    fs::create_directory(dir / OutputLayout::kImages);
    dir.Write(std::string("images/") + kTempName, "half an image");
    dir.Write(".manifest.jsonl.fedcba9876543210.tmp", "half a manifest");
    dir.Write(".run.json.00000000000000ff.tmp", "{");
    // Look-alikes that are not pixelmill's temporary files (beside images/, where a file that
    // is not a temporary one would count as an earlier run's result).
    dir.Write(".notes.tmp", "mine");
    dir.Write(".7.jpg.0123456789ABCDEF.tmp", "upper-case hex: not ours");
    dir.Write(".7.jpg.0123456789abcde.tmp", "15 digits: not ours");
    dir.Write("..0123456789abcdef.tmp", "no name: not ours");
    fs::create_directory(dir / ".dir.0123456789abcdef.tmp");

    Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), mode);
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    EXPECT_FALSE(prepared->resuming()) << "temp files are not an earlier run";
    EXPECT_FALSE(fs::exists(dir / OutputLayout::kImages / kTempName));
    EXPECT_FALSE(fs::exists(dir / ".manifest.jsonl.fedcba9876543210.tmp"));
    EXPECT_FALSE(fs::exists(dir / ".run.json.00000000000000ff.tmp"));
    EXPECT_EQ(ReadFile(dir / ".notes.tmp"), "mine");
    EXPECT_TRUE(fs::exists(dir / ".7.jpg.0123456789ABCDEF.tmp"));
    EXPECT_TRUE(fs::exists(dir / ".7.jpg.0123456789abcde.tmp"));
    EXPECT_TRUE(fs::exists(dir / "..0123456789abcdef.tmp"));
    EXPECT_TRUE(fs::is_directory(dir / ".dir.0123456789abcdef.tmp"));
  }
}

TEST(OutputDirModesTest, TempFilesAreDeletedBesideAResumedRun) {
  TempDir dir;
  dir.Write("manifest.jsonl", "{\"id\":7}\n");
  fs::create_directory(dir / OutputLayout::kImages);
  dir.Write("images/7.jpg", "jpeg");
  dir.Write(std::string("images/") + kTempName, "half");
  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kResume);
  ASSERT_TRUE(prepared.ok());
  EXPECT_TRUE(prepared->resuming());
  EXPECT_FALSE(fs::exists(dir / OutputLayout::kImages / kTempName));
  EXPECT_EQ(ReadFile(dir / OutputLayout::kImages / "7.jpg"), "jpeg");
}

// A folder refused for holding a run is left exactly as it was, temp files included.
TEST(OutputDirModesTest, ARefusedFolderIsNotTouched) {
  TempDir dir;
  dir.Write("manifest.jsonl", "{\"id\":7}\n");
  fs::create_directory(dir / OutputLayout::kImages);
  dir.Write(std::string("images/") + kTempName, "half");
  Result<OutputDir> prepared = OutputDir::Prepare(dir.path().string(), OutputMode::kFresh);
  ASSERT_FALSE(prepared.ok());
  EXPECT_TRUE(fs::exists(dir / OutputLayout::kImages / kTempName));
}

}  // namespace
}  // namespace pixelmill
