// The public C++ API (pixelmill/pixelmill.h), linked as a consumer links it: against
// libpixelmill.so only. Runs real workers against the image-api fixture on loopback.
#include "pixelmill/pixelmill.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/coordinator/api_test_support.h"
#include "tests/support/image_api_process.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

using testing::ImageApiProcess;
using testing::MixedUsers;
using testing::TempDir;
using testing::TestOptions;

std::string AsJsonl(const std::vector<User>& users) {
  std::string text;
  for (const User& u : users) {
    text += "{\"id\":" + std::to_string(u.id) + ",\"name\":\"" + u.name + "\",\"image_url\":\"" +
            u.image_url + "\"}\n";
  }
  return text;
}

std::string AsJsonArray(const std::vector<User>& users) {
  std::string text = "[";
  for (const User& u : users) {
    if (text.size() > 1) text += ",\n";
    text += "{\"id\":" + std::to_string(u.id) + ",\"name\":\"" + u.name + "\",\"image_url\":\"" +
            u.image_url + "\"}";
  }
  return text + "]\n";
}

void ExpectMixedResults(const RunSummary& summary, const std::vector<User>& users) {
  EXPECT_EQ(summary.exit_code, 3) << summary.error;
  ASSERT_EQ(summary.results.size(), users.size());
  for (size_t i = 0; i < users.size(); ++i) EXPECT_EQ(summary.results[i].id, users[i].id) << i;
  EXPECT_EQ(summary.ok, 2u);
  EXPECT_EQ(summary.failed, 3u);
  EXPECT_EQ(summary.not_done, 0u);
  for (size_t i : {0u, 4u}) {
    const UserResult& r = summary.results[i];
    EXPECT_TRUE(r.ok) << r.id << ": " << r.error_code << " " << r.error_message;
    EXPECT_EQ(r.state, UserResult::State::kOk);
    EXPECT_TRUE(std::filesystem::path(r.output_path).is_absolute()) << r.output_path;
    EXPECT_TRUE(std::filesystem::is_regular_file(r.output_path)) << r.output_path;
    EXPECT_GE(r.attempts, 1u);
    EXPECT_GT(r.download_ms, 0);
  }
  for (size_t i : {1u, 2u, 3u}) {
    const UserResult& r = summary.results[i];
    EXPECT_FALSE(r.ok) << r.id;
    EXPECT_EQ(r.state, UserResult::State::kFailed) << r.id;
    EXPECT_FALSE(r.error_code.empty()) << r.id;
    EXPECT_FALSE(r.error_message.empty()) << r.id;
    EXPECT_TRUE(r.output_path.empty()) << r.id;
  }
  EXPECT_EQ(summary.results[1].error_code, "http_status");
  EXPECT_GT(summary.wall_seconds, 0);
}

TEST(ApiTest, RunsAVectorAndReturnsOneRecordPerUserInInputOrder) {
  ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  TempDir dir;
  const std::vector<User> users = MixedUsers(api);
  Runner runner(TestOptions((dir / "out").string()));
  ExpectMixedResults(runner.Run(users), users);
  // The manifest is the contract the records come from: one line per user.
  EXPECT_EQ(testing::ManifestById(dir / "out" / "manifest.jsonl").size(), users.size());
}

TEST(ApiTest, RunsAJsonlFile) {
  ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  TempDir dir;
  const std::vector<User> users = MixedUsers(api);
  const std::string input = dir.Write("users.jsonl", AsJsonl(users));
  Runner runner(TestOptions((dir / "out").string()));
  ExpectMixedResults(runner.Run(input), users);
}

TEST(ApiTest, RunsAJsonArrayStream) {
  ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  TempDir dir;
  const std::vector<User> users = MixedUsers(api);
  std::istringstream in(AsJsonArray(users));
  Runner runner(TestOptions((dir / "out").string()));
  ExpectMixedResults(runner.Run(in), users);
}

TEST(ApiTest, BadInputAndBadOptionsRunNothing) {
  TempDir dir;
  {
    Runner runner(TestOptions((dir / "dup").string()));
    const RunSummary s = runner.Run(std::vector<User>{{7, "a", "http://127.0.0.1:1/a.jpg"},
                                                      {7, "b", "http://127.0.0.1:1/b.jpg"}});
    EXPECT_EQ(s.exit_code, 1);
    EXPECT_NE(s.error.find("duplicate id 7"), std::string::npos) << s.error;
    EXPECT_TRUE(s.results.empty());
  }
  {
    std::istringstream in("{\"id\": 1, \"name\": \"x\"}\n");
    Runner runner(TestOptions((dir / "stream").string()));
    const RunSummary s = runner.Run(in);
    EXPECT_EQ(s.exit_code, 1);
    // Named as the stream, not as the temporary file it was read from.
    EXPECT_NE(s.error.find("<stream>:1: field \"image_url\": missing field"), std::string::npos)
        << s.error;
    EXPECT_EQ(s.error.find("pixelmill-input"), std::string::npos) << s.error;
  }
  {
    RunOptions options = TestOptions((dir / "filter").string());
    options.filter = "blur:9999";
    const RunSummary s = Runner(options).Run(std::vector<User>{});
    EXPECT_EQ(s.exit_code, 2);
    EXPECT_NE(s.error.find("filter"), std::string::npos) << s.error;
  }
}

// Counts progress samples with a download on the wire, from the run's thread.
class DownloadWatcher : public Observer {
 public:
  void OnProgress(const ProgressSample& p) override {
    if (p.downloads_in_flight > 0) downloading_ = true;
  }
  std::atomic<bool> downloading_{false};
};

TEST(ApiTest, CancelFromAnotherThreadDrainsWithinGraceAndMarksTheRestNotDone) {
  ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  TempDir dir;
  std::vector<User> users;
  for (int64_t id = 1; id <= 20; ++id) {
    users.push_back({id, "slow", api.Url("/img/" + std::to_string(id) + ".jpg?latency=4000")});
  }
  RunOptions options = TestOptions((dir / "out").string());
  options.filter = "none";
  options.concurrency = 2;
  options.grace_s = 0.5;
  DownloadWatcher watcher;
  Runner runner(options, &watcher);
  RunSummary summary;
  std::atomic<bool> done{false};
  std::thread run([&] {
    summary = runner.Run(users);
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!watcher.downloading_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(watcher.downloading_.load());
  const auto cancelled = std::chrono::steady_clock::now();
  runner.Cancel();
  while (!done && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double stop_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - cancelled).count();
  run.join();
  // 0.5 s of grace against 4 s downloads: the run stops well before any of them ends.
  EXPECT_LT(stop_s, 3.0);
  EXPECT_EQ(summary.exit_code, 1);
  ASSERT_EQ(summary.results.size(), users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    const UserResult& r = summary.results[i];
    EXPECT_EQ(r.id, users[i].id);
    EXPECT_EQ(r.state, UserResult::State::kNotDone) << r.id;
    EXPECT_EQ(r.error_code, "not_done");
    EXPECT_FALSE(r.ok);
  }
  EXPECT_EQ(summary.not_done, users.size());
}

}  // namespace
}  // namespace pixelmill
