// The C++ API end to end: Runner::Run returns one record per user,
// in input order, under a tiny byte budget with a slow filter, after a cancelled run and its
// resume, on a resume of a finished run, on a changed input (refused), on a failing mix and
// on a full disk then its resume, and with retry_failed. Linked against libpixelmill.so only, like
// api_test; real workers and the image-api fixture on loopback.
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "pixelmill/pixelmill.h"
#include "tests/coordinator/api/api_test_support.h"
#include "tests/support/image_api_process.h"
#include "tests/support/json_at.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExpectOneRecordPerUser;
using testing::ImageApiProcess;
using testing::JsonDouble;
using testing::ReadFile;
using testing::TempDir;
using testing::TestOptions;

// `count` users of the fixture's /img/<id>.jpg + `query`, ids descending (input order is not
// id order).
std::vector<User> Users(const ImageApiProcess& api, int count, const std::string& query = "") {
  std::vector<User> users;
  for (int i = 0; i < count; ++i) {
    const int64_t id = 1000 - 7 * i;
    users.push_back({id, "u", api.Url("/img/" + std::to_string(id) + ".jpg" + query)});
  }
  return users;
}

// id -> the last write time of each ok record's file.
std::map<int64_t, fs::file_time_type> OkFileTimes(const RunSummary& summary) {
  std::map<int64_t, fs::file_time_type> times;
  for (const UserResult& r : summary.results) {
    if (r.ok) times[r.id] = fs::last_write_time(r.output_path);
  }
  return times;
}

bool AllOk(const RunSummary& summary) { return summary.ok == summary.results.size(); }

// Cancels its Runner (from the run's thread, as a signal handler would) once `after` users
// are ok.
class CancelAfter : public Observer {
 public:
  explicit CancelAfter(size_t after) : after_(after) {}
  void OnProgress(const ProgressSample& p) override {
    if (runner != nullptr && p.ok >= after_) runner->Cancel();
  }
  Runner* runner = nullptr;

 private:
  size_t after_;
};

class ApiStreamingTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(api_.ok()); }
  std::string Out() const { return (dir_ / "out").string(); }
  std::string Manifest() const { return ReadFile(dir_ / "out" / "manifest.jsonl"); }

  ImageApiProcess api_{PIXELMILL_IMAGE_API};
  TempDir dir_;
};

// A 100 ms filter on 2 workers and a 12 KiB budget (about a dozen of the fixture's ~1 KB
// images, for 24 users): downloads wait for memory while the filters work (the report counts
// the time; each transfer's opening reservation covers its small body, so none pauses); every
// user still ends ok, once, in order.
TEST_F(ApiStreamingTest, TinyBudgetAndSlowFilterReturnEveryUserOkInInputOrder) {
  const std::vector<User> users = Users(api_, 24);
  RunOptions options = TestOptions(Out());
  options.filter = "sleep:100";
  options.workers = 2;
  options.max_memory = 12 << 10;
  options.report_path = (dir_ / "report.json").string();
  const RunSummary summary = Runner(options).Run(users);
  EXPECT_EQ(summary.exit_code, 0) << summary.error;
  const std::string report = ReadFile(dir_ / "report.json");
  EXPECT_GT(JsonDouble(report, "/waits/download_budget_wait_s"), 0)
      << "the budget never bound: " << report;
  ExpectOneRecordPerUser(summary, users);
  EXPECT_TRUE(AllOk(summary));
  EXPECT_EQ(testing::ManifestById(dir_ / "out" / "manifest.jsonl").size(), users.size());
}

// A run cancelled part-way (every user then done or not_done), resumed by a second Runner:
// every user ends ok with one record, the earlier ones kept (their files not rewritten).
TEST_F(ApiStreamingTest, AResumeAfterACancelledRunFinishesItAndKeepsTheEarlierResults) {
  const std::vector<User> users = Users(api_, 30, "?latency=50");
  RunOptions options = TestOptions(Out());
  options.concurrency = 2;
  options.grace_s = 0;
  CancelAfter cancel(5);
  Runner first(options, &cancel);
  cancel.runner = &first;
  const RunSummary stopped = first.Run(users);
  EXPECT_EQ(stopped.exit_code, 1);
  ExpectOneRecordPerUser(stopped, users);
  ASSERT_GE(stopped.ok, 5u);
  ASSERT_GT(stopped.not_done, 0u) << "finished before the cancel took effect";
  EXPECT_EQ(stopped.failed, 0u);
  const auto kept = OkFileTimes(stopped);
  std::printf("cancelled with %zu ok, %zu not done\n", stopped.ok, stopped.not_done);

  options.resume = true;
  const RunSummary resumed = Runner(options).Run(users);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.error;
  ExpectOneRecordPerUser(resumed, users);
  EXPECT_TRUE(AllOk(resumed));
  for (size_t i = 0; i < users.size(); ++i) {
    const UserResult& before = stopped.results[i];
    if (!before.ok) continue;
    EXPECT_EQ(resumed.results[i].output_path, before.output_path) << before.id;
    EXPECT_EQ(fs::last_write_time(before.output_path), kept.at(before.id))
        << before.id << " redone though kept";
  }
  std::vector<std::string> problems;
  EXPECT_EQ(testing::ManifestById(dir_ / "out" / "manifest.jsonl", &problems).size(), users.size());
  EXPECT_TRUE(problems.empty()) << "a user has two lines: " << problems.front();
}

// A failing mix: 404, bad URL, corrupt image, HTML instead of an image, an image above
// max_image_bytes -- failed records with their codes, beside the ok ones.
TEST_F(ApiStreamingTest, AFailingMixReturnsFailedRecordsWithTheirCodes) {
  std::vector<User> users = testing::MixedUsers(api_);
  users.push_back({77, "html", api_.Url("/img/77.jpg?fault=html")});
  users.push_back({78, "huge", api_.Url("/img/78.jpg?fault=huge&bytes=300000")});
  RunOptions options = TestOptions(Out());
  options.max_image_bytes = 100'000;
  options.max_memory = 12 << 10;
  const RunSummary summary = Runner(options).Run(users);
  EXPECT_EQ(summary.exit_code, 3) << summary.error;
  ExpectOneRecordPerUser(summary, users);
  ASSERT_EQ(summary.results.size(), users.size());
  const std::vector<std::string> codes = {"", "http_status", "bad_url",  "not_image",
                                          "", "not_image",   "too_large"};
  for (size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(summary.results[i].error_code, codes[i]) << users[i].name;
  }
  EXPECT_EQ(summary.ok, 2u);
  EXPECT_EQ(summary.failed, 5u);
}

// A resume of a finished run (with failed users) runs nothing: the same records, the manifest
// and the files untouched. A resume of an empty folder starts afresh.
TEST_F(ApiStreamingTest, AResumeOfAFinishedRunChangesNothing) {
  const std::vector<User> users = testing::MixedUsers(api_);
  RunOptions options = TestOptions(Out());
  options.resume = true;  // the folder is empty: starts afresh
  const RunSummary first = Runner(options).Run(users);
  EXPECT_EQ(first.exit_code, 3) << first.error;
  ExpectOneRecordPerUser(first, users);
  EXPECT_EQ(first.ok, 2u);
  const std::string manifest = Manifest();
  const auto times = OkFileTimes(first);

  const RunSummary again = Runner(options).Run(users);
  EXPECT_EQ(again.exit_code, 3) << again.error;
  ExpectOneRecordPerUser(again, users);
  for (size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(again.results[i].state, first.results[i].state) << users[i].id;
    EXPECT_EQ(again.results[i].output_path, first.results[i].output_path) << users[i].id;
    EXPECT_EQ(again.results[i].error_code, first.results[i].error_code) << users[i].id;
  }
  EXPECT_EQ(Manifest(), manifest);
  EXPECT_EQ(OkFileTimes(again), times);
}

// A 503 that heals after its first answer fails the user when retries are off; a resume keeps
// that failure, a resume with retry_failed redoes it (and only it) and it ends ok.
TEST_F(ApiStreamingTest, RetryFailedRedoesOnlyTheFailedUsers) {
  std::vector<User> users = Users(api_, 4);
  users.push_back({5, "heals", api_.Url("/img/5.jpg?status=503&fail_times=1")});
  RunOptions options = TestOptions(Out());  // retries = 0
  const RunSummary first = Runner(options).Run(users);
  EXPECT_EQ(first.exit_code, 3) << first.error;
  ExpectOneRecordPerUser(first, users);
  ASSERT_EQ(first.results.back().error_code, "http_status");
  const auto times = OkFileTimes(first);

  options.resume = true;
  const RunSummary kept = Runner(options).Run(users);
  EXPECT_EQ(kept.exit_code, 3) << kept.error;
  ExpectOneRecordPerUser(kept, users);
  EXPECT_EQ(kept.results.back().state, UserResult::State::kFailed);

  options.retry_failed = true;
  const RunSummary retried = Runner(options).Run(users);
  EXPECT_EQ(retried.exit_code, 0) << retried.error;
  ExpectOneRecordPerUser(retried, users);
  EXPECT_EQ(retried.ok, users.size());
  EXPECT_EQ(OkFileTimes(first), times) << "an ok user was redone";
  EXPECT_EQ(testing::ManifestById(dir_ / "out" / "manifest.jsonl").size(), users.size());
}

// A resume with other users than the run in the folder is refused with a clear error; nothing
// in the folder changes.
TEST_F(ApiStreamingTest, AResumeOfAChangedInputIsRefusedAndChangesNothing) {
  const std::vector<User> users = Users(api_, 5);
  RunOptions options = TestOptions(Out());
  const RunSummary first = Runner(options).Run(users);
  ASSERT_EQ(first.exit_code, 0) << first.error;
  const std::string manifest = Manifest();
  const auto times = OkFileTimes(first);

  options.resume = true;
  const std::vector<User> more = Users(api_, 7);
  const RunSummary refused = Runner(options).Run(more);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.error.find("cannot resume"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("the users changed: count 5 -> 7"), std::string::npos)
      << refused.error;
  EXPECT_NE(refused.error.find("resume-anyway"), std::string::npos) << refused.error;
  EXPECT_EQ(Manifest(), manifest) << "touched though refused";
  EXPECT_EQ(OkFileTimes(first), times);
  // Nothing of this run: the folder's records are the earlier run's, not results of this one.
  EXPECT_TRUE(refused.results.empty());
  EXPECT_EQ(refused.ok + refused.failed + refused.not_done, 0u);
  // The same users again: the earlier records come back through a resume that has nothing to do.
  const RunSummary same = Runner(options).Run(users);
  EXPECT_EQ(same.exit_code, 0) << same.error;
  ExpectOneRecordPerUser(same, users);
  EXPECT_EQ(same.ok, users.size());
}

// A tmpfs of 256 KiB as the output (root only) and 1024x1024 pictures (~29 KB as JPEG): the
// disk fills on an image after about 8 users, with room left for the manifest's lines. That is
// the output's failure, not the users': the run stops with the error, users without a line
// not_done and none failed; once the disk has room (remount at 8 MiB) a resume finishes the job.
TEST_F(ApiStreamingTest, AFullDiskStopsTheRunAndAResumeFinishesIt) {
  const fs::path mnt = dir_ / "mnt";
  fs::create_directory(mnt);
  if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "needs root to mount a small tmpfs as a full disk (RLIMIT_FSIZE would "
                    "limit the test process itself: the API runs in-process)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt.string()};
  ImageApiProcess big(PIXELMILL_IMAGE_API, {"--size", "1024x1024", "--variants", "1"});
  ASSERT_TRUE(big.ok());
  const std::vector<User> users = Users(big, 30);
  RunOptions options = TestOptions((mnt / "out").string());
  options.filter = "none";
  const RunSummary full = Runner(options).Run(users);
  EXPECT_EQ(full.exit_code, 1);
  // On an image ("No space...", strerror) or, when images filled the disk first, on the
  // manifest ("no space...", uv_strerror).
  EXPECT_NE(full.error.find("o space left on device"), std::string::npos) << full.error;
  ExpectOneRecordPerUser(full, users);
  EXPECT_GT(full.not_done, 0u);
  EXPECT_EQ(full.failed, 0u) << "users failed for the disk's sake";
  std::printf("full disk: %zu ok, %zu not done: %s\n", full.ok, full.not_done, full.error.c_str());

  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=8m"), 0);
  options.resume = true;
  const RunSummary resumed = Runner(options).Run(users);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.error;
  ExpectOneRecordPerUser(resumed, users);
  EXPECT_TRUE(AllOk(resumed));
}

}  // namespace
}  // namespace pixelmill
