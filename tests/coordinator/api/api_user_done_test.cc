// Observer::OnUserDone: each user's record as its manifest line is committed, during the run,
// for the pipeline, --sequential and dedupe followers; the same records RunSummary::results
// holds at the end.
#include "pixelmill/pixelmill.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/coordinator/api/api_test_support.h"
#include "tests/support/image_api_process.h"
#include "tests/support/json_at.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

// Keeps each OnUserDone record, and whether the user's line was already in the manifest then
// and the run's summary had not come yet.
class Collector : public Observer {
 public:
  explicit Collector(std::filesystem::path manifest, bool wants = true)
      : manifest_(std::move(manifest)), wants_(wants) {}
  bool WantsUserResults() const override { return wants_; }
  void OnUserDone(const UserResult& r) override {
    const auto lines = testing::ManifestById(manifest_);
    committed_before &= lines.count(r.id) == 1;
    before_summary &= !summary_seen;
    done.push_back(r);
  }
  void OnSummary(const std::string&) override { summary_seen = true; }

  std::vector<UserResult> done;
  bool committed_before = true, before_summary = true, summary_seen = false;

 private:
  const std::filesystem::path manifest_;
  const bool wants_;
};

// Each OnUserDone record equals the summary's record of its user; every user came once.
void ExpectSameRecords(const Collector& c, const RunSummary& summary) {
  EXPECT_TRUE(c.committed_before) << "a record came before its line was committed";
  EXPECT_TRUE(c.before_summary) << "a record came after the run's end";
  std::map<int64_t, const UserResult*> by_id;
  for (const UserResult& r : c.done) {
    EXPECT_TRUE(by_id.emplace(r.id, &r).second) << "user " << r.id << " came twice";
  }
  ASSERT_EQ(by_id.size(), summary.results.size()) << summary.error;
  for (const UserResult& want : summary.results) {
    ASSERT_EQ(by_id.count(want.id), 1u) << "user " << want.id << " never came";
    const UserResult& got = *by_id.at(want.id);
    EXPECT_EQ(got.state, want.state) << want.id;
    EXPECT_EQ(got.output_path, want.output_path) << want.id;
    EXPECT_EQ(got.error_code, want.error_code) << want.id;
    EXPECT_EQ(got.error_message, want.error_message) << want.id;
    EXPECT_EQ(got.bytes, want.bytes) << want.id;
    EXPECT_EQ(got.width, want.width) << want.id;
    EXPECT_EQ(got.attempts, want.attempts) << want.id;
    EXPECT_EQ(got.deduplicated_from, want.deduplicated_from) << want.id;
  }
}

TEST(ApiUserDoneTest, ThePipelineHandsOverEachUserAsItsLineIsCommitted) {
  testing::ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  testing::TempDir dir;
  Collector collector(dir / "out" / "manifest.jsonl");
  std::vector<User> users = testing::MixedUsers(api);
  users.push_back({77, "same image as 50", api.Url("/img/50.jpg")});  // a dedupe follower
  Runner runner(testing::TestOptions((dir / "out").string()), &collector);
  const RunSummary summary = runner.Run(users);
  EXPECT_EQ(summary.exit_code, 3) << summary.error;
  ExpectSameRecords(collector, summary);
  EXPECT_EQ(summary.results.back().deduplicated_from, std::optional<std::string>("50"));
  // The summary carries the report, the same document --report writes.
  EXPECT_EQ(testing::JsonInt(summary.report, "/ok"), static_cast<int64_t>(summary.ok));
  EXPECT_EQ(testing::JsonInt(summary.report, "/failed"), static_cast<int64_t>(summary.failed));
  EXPECT_EQ(testing::JsonInt(summary.report, "/dedupe/deduplicated"), 1);
  EXPECT_EQ(testing::JsonAt(summary.report, "/options/dedupe"), "url");
  EXPECT_GT(testing::JsonInt(summary.report, "/download/requests"), 0);
}

// String ids through the C++ API: each result names its id the way the user gave it.
TEST(ApiUserDoneTest, StringIdsComeBackAsGiven) {
  testing::ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  testing::TempDir dir;
  const std::vector<User> users = {{"3f2b8c1e-9d4a", "Ada", api.Url("/img/1.jpg")},
                                   {7, "Brian", api.Url("/img/2.jpg")},
                                   {"a/b", "Chen", api.Url("/img/3.jpg")}};
  Runner runner(testing::TestOptions((dir / "out").string()));
  const RunSummary summary = runner.Run(users);
  ASSERT_EQ(summary.exit_code, 0) << summary.error;
  ASSERT_EQ(summary.results.size(), 3u);
  EXPECT_EQ(summary.results[0].string_id, "3f2b8c1e-9d4a");
  EXPECT_EQ(summary.results[1].string_id, "");
  EXPECT_EQ(summary.results[1].id, 7);
  EXPECT_EQ(summary.results[2].string_id, "a/b");
  EXPECT_EQ(std::filesystem::path(summary.results[2].output_path).filename(), "a%2Fb.jpg");
  const RunSummary refused = Runner(testing::TestOptions((dir / "out2").string()))
                                 .Run(std::vector<User>{{"ok", "a", api.Url("/img/1.jpg")},
                                                        {"bad\nid", "b", api.Url("/img/2.jpg")}});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(
      refused.error.find("users[1]: field \"string_id\": string id holds a control character"),
      std::string::npos)
      << refused.error;
}

TEST(ApiUserDoneTest, SequentialHandsOverEachUserToo) {
  testing::ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  testing::TempDir dir;
  Collector collector(dir / "out" / "manifest.jsonl");
  RunOptions options = testing::TestOptions((dir / "out").string());
  options.sequential = true;
  Runner runner(options, &collector);
  const RunSummary summary = runner.Run(testing::MixedUsers(api));
  EXPECT_EQ(summary.exit_code, 3) << summary.error;
  ExpectSameRecords(collector, summary);
}

TEST(ApiUserDoneTest, AnObserverThatDoesNotAskGetsNone) {
  testing::ImageApiProcess api(PIXELMILL_IMAGE_API);
  ASSERT_TRUE(api.ok());
  testing::TempDir dir;
  Collector collector(dir / "out" / "manifest.jsonl", /*wants=*/false);
  Runner runner(testing::TestOptions((dir / "out").string()), &collector);
  EXPECT_EQ(runner.Run(testing::MixedUsers(api)).exit_code, 3);
  EXPECT_TRUE(collector.done.empty());
  EXPECT_TRUE(collector.summary_seen);
}

}  // namespace
}  // namespace pixelmill
