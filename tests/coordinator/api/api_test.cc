// The public C++ API (pixelmill/pixelmill.h), linked as a consumer links it: against
// libpixelmill.so only. Runs real workers against the image-api fixture on loopback.
#include "pixelmill/pixelmill.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/coordinator/api/api_test_support.h"
#include "tests/support/child_process.h"
#include "tests/support/image_api_process.h"
#include "tests/support/json_at.h"
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
    EXPECT_GT(r.filter_cpu_ms, 0);  // thumbnail:32 ran in a worker
    EXPECT_EQ(r.bytes, std::filesystem::file_size(r.output_path));
    EXPECT_GT(r.width, 0u);
    EXPECT_LE(r.width, 32u);
    EXPECT_GT(r.height, 0u);
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

// A stream of `total` bytes of JSONL records with no name and no URL; counts the bytes it hands
// out.
class BadRecordsBuf : public std::streambuf {
 public:
  explicit BadRecordsBuf(size_t total) : left_(total) {}
  size_t served() const { return served_; }

 protected:
  int_type underflow() override {
    if (left_ == 0) return traits_type::eof();
    line_ = "{\"id\": " + std::to_string(next_id_++) + "}\n";
    line_.resize(std::min(line_.size(), left_));
    left_ -= line_.size();
    served_ += line_.size();
    setg(line_.data(), line_.data(), line_.data() + line_.size());
    return traits_type::to_int_type(line_[0]);
  }

 private:
  size_t left_;
  size_t served_ = 0;
  int64_t next_id_ = 1;
  std::string line_;
};

TEST(ApiTest, AStreamIsReadAsTheLoaderAsksNotCopiedWholeFirst) {
  constexpr size_t kTotal = size_t{64} << 20;
  BadRecordsBuf buf(kTotal);
  std::istream in(&buf);
  RunOptions options = TestOptions("");
  options.dry_run = true;
  const RunSummary s = Runner(options).Run(in);
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_NE(s.error.find("<stream>:1: field \"name\": missing field"), std::string::npos)
      << s.error;
  // Past the bad records it describes, the loader stops: the rest of the stream is never read
  // (it reads JSONL in chunks of a few MiB).
  EXPECT_LT(buf.served(), kTotal / 4);
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

// The downloads take a minute: a run that waited for them instead of stopping after its 0.5 s
// of grace would end with them ok or (past the 20 s timeout) failed, not "not done".
TEST(ApiTest, CancelFromAnotherThreadDrainsWithinGraceAndMarksTheRestNotDone) {
  ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  TempDir dir;
  std::vector<User> users;
  for (int64_t id = 1; id <= 20; ++id) {
    users.push_back({id, "slow", api.Url("/img/" + std::to_string(id) + ".jpg?latency=60000")});
  }
  RunOptions options = TestOptions((dir / "out").string());
  options.filter = "none";
  options.concurrency = 2;
  options.grace_s = 0.5;
  DownloadWatcher watcher;
  Runner runner(options, &watcher);
  RunSummary summary;
  std::thread run([&] { summary = runner.Run(users); });
  const bool downloading = testing::WaitFor([&] { return watcher.downloading_.load(); }, 60);
  runner.Cancel();  // also when the downloads never showed: the run must end either way
  run.join();
  ASSERT_TRUE(downloading) << "no progress sample showed a download on the wire";
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

// Keeps every event and the last progress sample, from the run's thread.
class Recorder : public Observer {
 public:
  void OnEvent(LogLevel level, const std::string& message) override {
    events_.push_back({level, message});
  }
  void OnProgress(const ProgressSample& p) override { last_ = p; }
  bool Said(LogLevel level, const std::string& part) const {
    for (const auto& [l, message] : events_) {
      if (l == level && message.find(part) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::pair<LogLevel, std::string>> events_;
  ProgressSample last_;
};

// Every check of the command speaks in the API's terms here: the field, its flag beside it.
TEST(ApiOptionsTest, EveryCheckOfTheCommandNamesItsFieldAndFlag) {
  TempDir dir;
  struct Case {
    const char* what;
    void (*set)(RunOptions&);
    int exit_code;
    const char* says;
  };
  const Case cases[] = {
      {"no output", [](RunOptions& o) { o.output_dir.clear(); }, 2,
       "output_dir (--output) is required (or use dry_run (--dry-run))"},
      {"resume and overwrite",
       [](RunOptions& o) {
         o.resume_anyway = true;  // implies resume
         o.overwrite = true;
       },
       2, "overwrite (--overwrite) (delete it) cannot go together"},
      {"retry without resume", [](RunOptions& o) { o.retry_failed = true; }, 2,
       "retry_failed (--retry-failed) needs resume (--resume)"},
      {"intensity out of range",
       [](RunOptions& o) {
         o.filter = "blur";
         o.intensity = 500;
       },
       2, "filter (--filter):"},
      {"intensity not a number",
       [](RunOptions& o) {
         o.filter = "blur";
         o.intensity = std::nan("");
       },
       2, "intensity (--intensity): nan is not a finite number"},
      {"format", [](RunOptions& o) { o.format = "gif"; }, 2, "format (--format): 'gif'"},
      {"quality", [](RunOptions& o) { o.quality = 0; }, 2, "quality (--quality)"},
      {"remote workers in the clear", [](RunOptions& o) { o.bind = "tcp://0.0.0.0:5555"; }, 2,
       "pass insecure (--insecure)"},
      {"crash (a test-only build's filter)",
       [](RunOptions& o) {
         o.filter = "crash";
         o.sequential = true;
       },
       2, "unknown filter 'crash'"},
      {"no worker", [](RunOptions& o) { o.worker_binary = "/nonexistent/worker"; }, 1,
       "/nonexistent/worker is not executable"},
      {"zero concurrency", [](RunOptions& o) { o.concurrency = 0; }, 2,
       "concurrency (--concurrency)"},
      {"zero attempts", [](RunOptions& o) { o.max_attempts = 0; }, 2,
       "max_attempts (--max-attempts)"},
      {"worker memory too small to start", [](RunOptions& o) { o.worker_memory_mb = 128; }, 2,
       "worker_memory_mb (--worker-memory-mb): 128 is not 0 or >= 256"},
  };
  for (const Case& c : cases) {
    RunOptions options = TestOptions((dir / "out").string());
    c.set(options);
    Recorder recorder;
    const RunSummary s =
        Runner(options, &recorder).Run(std::vector<User>{{1, "a", "http://127.0.0.1:1/a.jpg"}});
    EXPECT_EQ(s.exit_code, c.exit_code) << c.what;
    EXPECT_NE(s.error.find(c.says), std::string::npos) << c.what << ": " << s.error;
    EXPECT_TRUE(recorder.Said(LogLevel::kError, c.says)) << c.what;
    EXPECT_TRUE(s.results.empty()) << c.what;
    EXPECT_FALSE(std::filesystem::exists(dir / "out")) << c.what << ": something was written";
  }
}

TEST(ApiOptionsTest, ADryRunLoadsAndSaysWhatItLoadedAndWritesNothing) {
  TempDir dir;
  const std::string input = dir.Write(
      "users.jsonl",
      AsJsonl({{1, "a", "http://127.0.0.1:1/a.jpg"}, {2, "b", "http://127.0.0.1:1/b.jpg"}}) +
          "{\"id\": 3}\n");
  RunOptions options = TestOptions("");
  options.dry_run = true;
  options.max_bad_records = 1;
  const RunSummary s = Runner(options).Run(input);
  EXPECT_EQ(s.exit_code, 0) << s.error;
  EXPECT_EQ(s.input.format, "jsonl");
  EXPECT_EQ(s.input.users, 2u);
  EXPECT_EQ(s.input.bad_records, 1u);
  EXPECT_GT(s.input.bytes, 100u);
  EXPECT_GT(s.input.store_bytes, s.input.store_field_bytes);
  EXPECT_GT(s.input.store_field_bytes, 0u);
  EXPECT_TRUE(s.results.empty());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1)
      << "a dry run wrote something";
}

// RunOptions::shard takes the same users from a vector, a stream and a file: every user in one
// shard of two, each shard a fair part; a bad shard is refused as the command line refuses it.
TEST(ApiOptionsTest, AShardOfAVectorAStreamOrAFileIsTheSameUsers) {
  TempDir dir;
  std::vector<User> users;
  for (int64_t id = 0; id < 200; ++id) users.push_back({id, "u", "http://127.0.0.1:1/a.jpg"});
  const std::string input = dir.Write("users.jsonl", AsJsonl(users));
  uint64_t total = 0;
  for (const char* shard : {"0/2", "1/2"}) {
    RunOptions options = TestOptions("");
    options.dry_run = true;
    options.shard = shard;
    const RunSummary from_vector = Runner(options).Run(users);
    ASSERT_EQ(from_vector.exit_code, 0) << from_vector.error;
    std::istringstream stream(AsJsonl(users));
    const RunSummary from_stream = Runner(options).Run(stream);
    const RunSummary from_file = Runner(options).Run(input);
    for (const RunSummary* s : {&from_vector, &from_stream, &from_file}) {
      EXPECT_EQ(s->input.users, from_vector.input.users) << shard;
      EXPECT_EQ(s->input.users + s->input.other_shards, users.size()) << shard;
    }
    EXPECT_GT(from_vector.input.users, 70u) << shard;
    total += from_vector.input.users;
  }
  EXPECT_EQ(total, users.size());
  RunOptions bad = TestOptions("");
  bad.dry_run = true;
  bad.shard = "2/2";
  const RunSummary refused = Runner(bad).Run(users);
  EXPECT_EQ(refused.exit_code, kExitUsage);
  EXPECT_NE(refused.error.find("shard (--shard) 2/2"), std::string::npos) << refused.error;
}

TEST(ApiOptionsTest, BadRecordsOfAFileAreSkippedIntoRejectsAndCountedWithoutResults) {
  ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  TempDir dir;
  const std::vector<User> users = MixedUsers(api);
  const std::string input =
      dir.Write("users.jsonl", AsJsonl(users) + "{\"id\": 99, \"name\": \"no url\"}\n");
  RunOptions options = TestOptions((dir / "out").string());
  options.max_bad_records = 1;
  options.collect_results = false;
  Recorder recorder;
  const RunSummary s = Runner(options, &recorder).Run(input);
  EXPECT_EQ(s.exit_code, 3) << s.error;
  EXPECT_TRUE(s.results.empty());
  EXPECT_EQ(s.ok, 2u);
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.not_done, 0u);
  EXPECT_EQ(s.input.bad_records, 1u);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "out" / "rejects.jsonl"));
  // The last sample carries the whole picture: counts, the budget, what the filters cost.
  EXPECT_EQ(recorder.last_.ok + recorder.last_.failed, 5u);
  EXPECT_EQ(recorder.last_.budget_limit, options.max_memory);
  EXPECT_GT(recorder.last_.filter_cpu_s, 0);
}

TEST(ApiOptionsTest, ACancelOnBehalfOfASignalIsNamedInTheStopMessage) {
  TempDir dir;
  RunOptions options = TestOptions((dir / "out").string());
  options.filter = "none";
  options.grace_s = 0;
  options.command_line = {"coordinator", "--input", "u.jsonl", "--output", "out"};
  Recorder recorder;
  Runner runner(options, &recorder);
  runner.Cancel(SIGTERM);  // before the run: it stops as soon as it starts
  const RunSummary s = runner.Run(std::vector<User>{{1, "a", "http://127.0.0.1:1/a.jpg"}});
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_NE(s.error.find("interrupted by SIGTERM"), std::string::npos) << s.error;
  EXPECT_NE(s.error.find("coordinator --input u.jsonl --output out --resume"), std::string::npos)
      << s.error;
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0].state, UserResult::State::kNotDone);
}

}  // namespace
}  // namespace pixelmill
