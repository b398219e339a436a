// WriteFileAtomically and WriteAll: the target is replaced whole, temporary names cannot be
// guessed, nothing is written through a planted symlink, a failure leaves no temporary behind.
#include "common/base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

std::vector<std::string> Names(const fs::path& folder) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(folder)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

TEST(AtomicFileTest, CreatesAndReplacesTheTarget) {
  TempDir dir;
  const std::string target = (dir / "report.json").string();
  ASSERT_TRUE(WriteFileAtomically(target, "first\n", /*sync=*/false).ok());
  EXPECT_EQ(ReadFile(target), "first\n");
  ASSERT_TRUE(WriteFileAtomically(target, "second", /*sync=*/true).ok());
  EXPECT_EQ(ReadFile(target), "second");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"report.json"}) << "a temp file is left";
}

TEST(AtomicFileTest, ReplacesAPlantedSymlinkWithoutWritingThroughIt) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "precious");
  const fs::path target = dir / "report.json";
  fs::create_symlink(victim, target);
  ASSERT_TRUE(WriteFileAtomically(target.string(), "report", /*sync=*/false).ok());
  EXPECT_EQ(ReadFile(victim), "precious");
  EXPECT_FALSE(fs::is_symlink(target));
  EXPECT_EQ(ReadFile(target), "report");
}

// The old code wrote "<path>.tmp": a symlink planted there redirected the write.
TEST(AtomicFileTest, APlantedPredictableTempNameIsNotWrittenThrough) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "precious");
  const fs::path target = dir / "report.json";
  fs::create_symlink(victim, dir / "report.json.tmp");
  fs::create_symlink(victim, dir / ".report.json.tmp");
  ASSERT_TRUE(WriteFileAtomically(target.string(), "report", /*sync=*/false).ok());
  EXPECT_EQ(ReadFile(victim), "precious");
  EXPECT_EQ(ReadFile(target), "report");
}

TEST(AtomicFileTest, TempNamesDifferBetweenCalls) {
  TempDir dir;
  // A non-empty folder at the target: each call writes its temp file, fails to rename it, and
  // names it in the error.
  fs::create_directory(dir / "out");
  dir.Write("out/keep", "kept");
  std::set<std::string> messages;
  for (int i = 0; i < 20; ++i) {
    Status s = WriteFileAtomically((dir / "out").string(), "x", /*sync=*/false);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("/.out."), std::string::npos) << s.message();
    messages.insert(s.message());
  }
  EXPECT_EQ(messages.size(), 20u) << "temporary names repeat: " << *messages.begin();
}

TEST(AtomicFileTest, AFailedRenameLeavesNoTempAndKeepsTheTarget) {
  TempDir dir;
  // A non-empty folder at the target: rename() of a file over it fails after the write.
  fs::create_directory(dir / "target");
  dir.Write("target/keep", "kept");
  Status s = WriteFileAtomically((dir / "target").string(), "bytes", /*sync=*/false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_NE(s.message().find("target"), std::string::npos) << s.message();
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"target"}) << "a temp file is left";
  EXPECT_EQ(ReadFile(dir / "target" / "keep"), "kept");
}

// No room (ENOSPC here, from /dev/full) has its own code: callers stop instead of blaming the
// data being written.
TEST(AtomicFileTest, AWriteWithNoRoomHasCodeFull) {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Status s = WriteAll(fd, "bytes", "/dev/full");
  ::close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kFull) << s.message();
}

TEST(AtomicFileTest, AMissingFolderFails) {
  TempDir dir;
  Status s = WriteFileAtomically((dir / "no" / "such").string(), "x", /*sync=*/false);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIo);
}

TEST(AtomicFileTest, WriteAllWritesEverythingAndNamesThePathOnError) {
  TempDir dir;
  const std::string path = (dir / "f").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string big(1 << 20, 'a');
  EXPECT_TRUE(WriteAll(fd, big, path).ok());
  ::close(fd);
  EXPECT_EQ(ReadFile(path), big);

  const int read_only = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  Status s = WriteAll(read_only, "x", path);
  ::close(read_only);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(AtomicFileTest, TempNamesAreRecognisedAndNothingElse) {
  TempDir dir;
  // The name a real write uses: a failed rename names it in its error.
  fs::create_directory(dir / "out.jsonl");
  dir.Write("out.jsonl/keep", "kept");
  Status s = WriteFileAtomically((dir / "out.jsonl").string(), "x", /*sync=*/false);
  ASSERT_FALSE(s.ok());
  const size_t at = s.message().find("/.out.jsonl.");
  ASSERT_NE(at, std::string::npos) << s.message();
  const std::string real = s.message().substr(at + 1, s.message().find(' ', at) - at - 1);
  EXPECT_TRUE(IsAtomicTempName(real)) << real;

  EXPECT_TRUE(IsAtomicTempName(".a.0123456789abcdef.tmp"));
  EXPECT_TRUE(IsAtomicTempName(".7.jpg.ffffffffffffffff.tmp"));
  for (const char* name :
       {"a.0123456789abcdef.tmp", "..0123456789abcdef.tmp", ".a.0123456789abcdeF.tmp",
        ".a.0123456789abcde.tmp", ".a.0123456789abcdef0.tmp", ".a-0123456789abcdef.tmp",
        ".a.0123456789abcdef.tmpx", ".a.0123456789abcdef", ".tmp", ""}) {
    EXPECT_FALSE(IsAtomicTempName(name)) << name;
  }
}

TEST(AtomicFileTest, TheWriterStreamsPiecesAndReplacesOnCommit) {
  TempDir dir;
  const std::string target = dir.Write("manifest.jsonl", "old\n");
  Result<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::string expected;
  for (int i = 0; i < 50000; ++i) {
    const std::string piece = "line " + std::to_string(i) + "\n";
    ASSERT_TRUE(writer->Append(piece).ok());
    expected += piece;
  }
  const std::string big(3 << 20, 'b');  // larger than the buffer: written past it
  ASSERT_TRUE(writer->Append(big).ok());
  ASSERT_TRUE(writer->Append("end\n").ok());
  expected += big + "end\n";
  EXPECT_EQ(ReadFile(target), "old\n") << "replaced before Commit";
  EXPECT_TRUE(IsAtomicTempName(fs::path(writer->temp_path()).filename().string()));
  ASSERT_TRUE(writer->Commit(/*sync=*/true).ok());
  EXPECT_TRUE(ReadFile(target) == expected);
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"manifest.jsonl"}) << "a temp file left";
}

TEST(AtomicFileTest, AnUncommittedWriterLeavesTheTargetAndNoTemp) {
  TempDir dir;
  const std::string target = dir.Write("manifest.jsonl", "old\n");
  {
    Result<AtomicFileWriter> writer = AtomicFileWriter::Create(target);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Append("new\n").ok());
    AtomicFileWriter moved = std::move(writer.value());  // the moved-from one owns nothing
    ASSERT_TRUE(moved.Append("more\n").ok());
  }
  EXPECT_EQ(ReadFile(target), "old\n");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"manifest.jsonl"}) << "a temp file left";
}

}  // namespace
}  // namespace pixelmill
