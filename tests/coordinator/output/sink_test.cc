// Sink on a real libuv loop: manifest lines in order, an existing manifest appended to, a full
// disk that leaves no torn line and no line reported written that is not, and no output opened
// through a planted symlink.
#include "coordinator/output/sink.h"

#include <signal.h>
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/output/output_layout.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A line of about 40 bytes for user `id`.
std::string LineFor(int id) {
  return R"({"id":)" + std::to_string(id) + R"(,"status":"ok","x":"abc"})";
}

class SinkTest : public ::testing::Test {
 protected:
  SinkTest() { uv_loop_init(&loop_); }
  ~SinkTest() override { EXPECT_EQ(uv_loop_close(&loop_), 0) << "leaked libuv handles"; }

  // Closes `sink` and runs the loop until everything has finished; returns Close's status.
  Status CloseAndRun(Sink& sink) {
    Status closed = Status::Error(Code::kInternal, "Close never completed");
    sink.Close([&](const Status& s) { closed = s; });
    uv_run(&loop_, UV_RUN_DEFAULT);
    return closed;
  }

  uv_loop_t loop_;
  TempDir dir_;
};

TEST_F(SinkTest, AppendsToAnExistingManifestInOrder) {
  dir_.Write("manifest.jsonl", "{\"id\":0}\n");  // a run being continued: kept, not truncated
  Sink sink(loop_, SinkOptions{dir_.path().string()});
  ASSERT_TRUE(sink.Open().ok());
  int ok = 0;
  for (int id = 1; id <= 50; ++id) {
    sink.AppendManifest(LineFor(id), [&](const Status& s) { ok += s.ok(); });
  }
  EXPECT_EQ(ok, 0) << "done ran on the caller's stack";
  EXPECT_TRUE(CloseAndRun(sink).ok());
  EXPECT_EQ(ok, 50);
  const std::vector<std::string> lines = Lines(ReadFile(dir_ / OutputLayout::kManifest));
  ASSERT_EQ(lines.size(), 51u);
  EXPECT_EQ(lines[0], "{\"id\":0}");
  for (int id = 1; id <= 50; ++id) EXPECT_EQ(lines[id], LineFor(id));
}

// A file size limit makes the manifest's writes come up short and then fail with EFBIG, as a
// full disk does with ENOSPC. Lines go out in groups of ten, each group appended by the last
// done callback of the one before, so several writes succeed before one straddles the limit.
TEST_F(SinkTest, AFullDiskLeavesNoTornLineAndNoLineWrittenAfterIt) {
  const std::string existing = LineFor(0) + "\n";
  dir_.Write("manifest.jsonl", existing);
  Sink sink(loop_, SinkOptions{dir_.path().string()});
  ASSERT_TRUE(sink.Open().ok());

  const rlim_t limit = 1000;  // bytes: not a multiple of a group's size
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const sighandler_t saved_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);

  std::vector<int> ok_ids, failed_ids;
  std::vector<std::string> errors;
  int next = 1;
  bool failed_once = false;
  std::function<void()> append_group;
  auto on_done = [&](int id, bool last_of_group, const Status& s) {
    (s.ok() ? ok_ids : failed_ids).push_back(id);
    if (!s.ok()) errors.push_back(s.message());
    if (!s.ok() && !failed_once) {
      failed_once = true;
      append_group();  // lines after the failure: refused, never written
    } else if (last_of_group && next <= 200 && s.ok()) {
      append_group();
    }
  };
  append_group = [&] {
    for (int i = 0; i < 10; ++i, ++next) {
      const int id = next;
      sink.AppendManifest(LineFor(id), [&, id, i](const Status& s) { on_done(id, i == 9, s); });
    }
  };
  append_group();
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Lifted again before anything can fail the test: what follows is refused by the sink alone.
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ::signal(SIGXFSZ, saved_handler);
  ASSERT_FALSE(failed_ids.empty()) << "the size limit was never reached";
  const int first_refused = next - 10;  // the group appended after the failure
  sink.AppendManifest(LineFor(999), [&](const Status& s) {
    EXPECT_FALSE(s.ok()) << "a line after the failure was written";
    errors.push_back(s.message());
  });
  const Status closed = CloseAndRun(sink);

  const std::string text = ReadFile(dir_ / OutputLayout::kManifest);
  EXPECT_LE(text.size(), limit);
  // Whole lines of the batch that hit the limit stay: the file is full to within one line.
  EXPECT_GT(text.size() + LineFor(999).size() + 1, limit) << "complete lines were cut off";
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "torn last line";
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), ok_ids.size() + 1) << "lines reported written != lines in the file";
  EXPECT_EQ(lines[0], LineFor(0));
  for (size_t i = 0; i < ok_ids.size(); ++i) EXPECT_EQ(lines[i + 1], LineFor(ok_ids[i]));
  for (int id = first_refused; id < first_refused + 10; ++id) {
    EXPECT_NE(std::find(failed_ids.begin(), failed_ids.end(), id), failed_ids.end()) << id;
  }
  EXPECT_EQ(ok_ids.size() + failed_ids.size(), static_cast<size_t>(next - 1));
  const std::string path = (dir_ / OutputLayout::kManifest).string();
  for (const std::string& e : errors) {
    EXPECT_EQ(e, errors.front()) << "every failed line gets the first error";
  }
  EXPECT_NE(errors.front().find(path), std::string::npos) << errors.front();
  EXPECT_NE(errors.front().find("too large"), std::string::npos) << errors.front();
  EXPECT_FALSE(closed.ok());
  EXPECT_EQ(closed.message(), errors.front());
}

TEST_F(SinkTest, RefusesAManifestSymlink) {
  const std::string victim = dir_.Write("victim", "precious");
  fs::create_symlink(victim, dir_ / OutputLayout::kManifest);
  Sink sink(loop_, SinkOptions{dir_.path().string()});
  Status opened = sink.Open();
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.message().find("symbolic link"), std::string::npos) << opened.message();
  EXPECT_NE(opened.message().find("manifest.jsonl"), std::string::npos) << opened.message();
  EXPECT_EQ(ReadFile(victim), "precious");
}

// The old fallback wrote through ".<name>.tmp" without O_EXCL: a symlink planted there (with
// one at the final name, so that linking the O_TMPFILE fails) redirected the image.
TEST_F(SinkTest, WritesAnImageOverPlantedSymlinksWithoutWritingThroughThem) {
  const std::string victim = dir_.Write("victim", "precious");
  Sink sink(loop_, SinkOptions{dir_.path().string()});
  ASSERT_TRUE(sink.Open().ok());
  fs::create_symlink(victim, dir_ / OutputLayout::kImages / "1.jpg");
  fs::create_symlink(victim, dir_ / OutputLayout::kImages / ".1.jpg.tmp");
  Status written = Status::Error(Code::kInternal, "never called");
  sink.Commit("images/1.jpg", ImageBuffer::FromString("jpeg"), "{\"id\":1}",
              [&](CommitResult, const Status& s) { written = s; });
  EXPECT_TRUE(CloseAndRun(sink).ok());
  EXPECT_TRUE(written.ok()) << written.ToString();
  EXPECT_EQ(ReadFile(victim), "precious");
  EXPECT_FALSE(fs::is_symlink(dir_ / OutputLayout::kImages / "1.jpg"));
  EXPECT_EQ(ReadFile(dir_ / OutputLayout::kImages / "1.jpg"), "jpeg");
}

// A folder standing where the image goes fails that image with "write"; the run goes on.
TEST_F(SinkTest, AFailedImageWriteHasCodeWrite) {
  Sink sink(loop_, SinkOptions{dir_.path().string()});
  ASSERT_TRUE(sink.Open().ok());
  std::filesystem::create_directory(dir_ / OutputLayout::kImages / "1.jpg");
  Status written;
  CommitResult result = CommitResult::kCommitted;
  sink.Commit("images/1.jpg", ImageBuffer::FromString("jpeg"), "{\"id\":1}",
              [&](CommitResult r, const Status& s) {
                result = r;
                written = s;
              });
  EXPECT_TRUE(CloseAndRun(sink).ok()) << "one user's failure, not the run's";
  EXPECT_EQ(result, CommitResult::kImageFailed);
  EXPECT_EQ(ReadFile(dir_ / OutputLayout::kManifest), "")
      << "no line for an image that is not there";
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.code(), Code::kWrite);
  EXPECT_NE(written.message().find("images/1.jpg"), std::string::npos) << written.message();
}

// OUT/images swapped for a symlink during the run: images still go into the folder that was
// opened, never into the link's target.
TEST_F(SinkTest, ASymlinkSwappedInForImagesIsNotWrittenThrough) {
  TempDir victim;
  Sink sink(loop_, SinkOptions{dir_.path().string()});
  ASSERT_TRUE(sink.Open().ok());
  std::filesystem::rename(dir_ / OutputLayout::kImages, dir_ / "images.opened");
  std::filesystem::create_directory_symlink(victim.path(), dir_ / OutputLayout::kImages);
  CommitResult result = CommitResult::kImageFailed;
  sink.Commit("images/1.jpg", ImageBuffer::FromString("jpeg"), "{\"id\":1}",
              [&](CommitResult r, const Status&) { result = r; });
  EXPECT_TRUE(CloseAndRun(sink).ok());
  EXPECT_EQ(result, CommitResult::kCommitted);
  EXPECT_TRUE(std::filesystem::is_empty(victim.path()));
  EXPECT_EQ(ReadFile(dir_ / "images.opened" / "1.jpg"), "jpeg");
}

// The commit step: the line goes out only once the image is complete under its final name, and
// with durable the image, the folder and the lines are synced; lines are synced in batches, not
// one fdatasync per line.
TEST_F(SinkTest, CommitPublishesTheImageBeforeItsLineAndSyncsInBatches) {
  for (bool durable : {false, true}) {
    SCOPED_TRACE(durable ? "durable" : "default");
    TempDir dir;
    Sink sink(loop_, SinkOptions{dir.path().string(), durable});
    ASSERT_TRUE(sink.Open().ok());
    constexpr int kUsers = 2500;
    int committed = 0, image_missing = 0;
    for (int id = 0; id < kUsers; ++id) {
      const std::string path = "images/" + std::to_string(id) + ".jpg";
      sink.Commit(path, ImageBuffer::FromString("jpeg" + std::to_string(id)), LineFor(id),
                  [&, path](CommitResult result, const Status& s) {
                    EXPECT_TRUE(s.ok()) << s.ToString();
                    committed += result == CommitResult::kCommitted;
                    image_missing += !fs::exists(dir.path() / path);
                  });
    }
    EXPECT_TRUE(CloseAndRun(sink).ok());
    EXPECT_EQ(committed, kUsers);
    EXPECT_EQ(image_missing, 0);
    const auto lines = Lines(ReadFile(dir.path() / OutputLayout::kManifest));
    ASSERT_EQ(lines.size(), size_t{kUsers});
    EXPECT_EQ(sink.lines_written(), uint64_t{kUsers});
    EXPECT_EQ(ReadFile(dir.path() / OutputLayout::kImages / "7.jpg"), "jpeg7");
    // Every 1,000 lines or 100 ms: far fewer syncs than lines (the last one comes at close).
    EXPECT_LT(sink.syncs(), uint64_t{kUsers} / 10) << "one fdatasync per line";
  }
}

}  // namespace
}  // namespace pixelmill
