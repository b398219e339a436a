// --dedupe end to end: the real coordinator, real workers and the image-api fixture, whose
// --verbose log (one line per request) tells how many downloads the run made.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

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

class DedupeRunTest : public testing::CoordinatorRun {
 protected:
  // Users 0..count-1, user i on the image URL `url(i)` of the counting fixture.
  void UsersOn(int count, const std::function<std::string(int)>& url) {
    std::vector<std::string> urls;
    for (int i = 0; i < count; ++i) urls.push_back(counted_.Url(url(i)));
    UsersWithUrls(urls);
  }
  // Requests the counting fixture has served so far.
  size_t Requests() const {
    const std::string log = ReadFile(dir_ / "api.log");
    size_t n = 0;
    for (size_t at = log.find("GET /img/"); at != std::string::npos;
         at = log.find("GET /img/", at + 1)) {
      ++n;
    }
    return n;
  }
  int Run(std::vector<std::string> flags) { return ExitCode(Start(flags)->Wait(120)); }
  fs::path Image(int64_t id) const {
    return dir_ / "out" / "images" / (std::to_string(id) + ".jpg");
  }
  static ino_t Inode(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }
  // Every user in `manifest` whose URL is shared follows the first user of its URL `group(i)`:
  // an ok line naming it, and the leader's very bytes (a hard link on this filesystem).
  void ExpectFollowers(const std::map<int64_t, std::string>& manifest, int count,
                       const std::function<int(int)>& leader_of) {
    ASSERT_EQ(manifest.size(), static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      const std::string& line = manifest.at(i);
      EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
      const int leader = leader_of(i);
      if (leader == i) {
        EXPECT_EQ(line.find("deduplicated_from"), std::string::npos) << line;
        continue;
      }
      EXPECT_EQ(JsonInt(line, "/deduplicated_from"), leader) << line;
      EXPECT_EQ(JsonInt(line, "/bytes"), JsonInt(manifest.at(leader), "/bytes")) << line;
      EXPECT_EQ(ReadFile(Image(i)), ReadFile(Image(leader))) << i;
      EXPECT_EQ(Inode(Image(i)), Inode(Image(leader))) << i;
    }
  }

  testing::ImageApiProcess counted_{testing::kImageApiBinary, {"--verbose"}, dir_ / "api.log"};
};

TEST_F(DedupeRunTest, FiftyUsersOnFiveUrlsDownloadAndFilterFiveImages) {
  ASSERT_TRUE(counted_.ok());
  UsersOn(50, [](int i) { return "/img/" + std::to_string(i % 5) + ".jpg"; });
  ASSERT_EQ(Run({"--filter", "blur:2", "--workers", "2"}), 0) << Stderr();
  EXPECT_EQ(Requests(), 5u);
  const auto manifest = Manifest();
  ExpectFollowers(manifest, 50, [](int i) { return i % 5; });
  const std::string report = Report();
  EXPECT_EQ(JsonInt(report, "/dedupe/deduplicated"), 45) << report;
  EXPECT_EQ(JsonInt(report, "/dedupe/downloads_saved"), 45) << report;
  EXPECT_EQ(JsonInt(report, "/dedupe/filter_jobs_saved"), 45) << report;
  EXPECT_EQ(JsonInt(report, "/download/requests"), 5) << report;
  EXPECT_EQ(JsonInt(report, "/workers/jobs_sent"), 5) << report;
}

TEST_F(DedupeRunTest, AFailingSharedUrlFailsEveryUserOfItWithTheSameError) {
  ASSERT_TRUE(counted_.ok());
  UsersOn(20, [](int i) { return i % 2 == 0 ? "/img/1.jpg?status=404" : "/img/2.jpg"; });
  EXPECT_EQ(Run({"--filter", "blur:2", "--workers", "1"}), 3) << Stderr();
  EXPECT_EQ(Requests(), 2u);
  const auto manifest = Manifest();
  ASSERT_EQ(manifest.size(), 20u);
  const std::string message = JsonAt(manifest.at(0), "/error/message");
  for (int i = 0; i < 20; i += 2) {
    const std::string& line = manifest.at(i);
    EXPECT_EQ(JsonAt(line, "/status"), "failed") << line;
    EXPECT_EQ(JsonAt(line, "/error/code"), "http_status") << line;
    EXPECT_EQ(JsonAt(line, "/error/message"), message) << line;
    if (i > 0) {
      EXPECT_EQ(JsonInt(line, "/deduplicated_from"), 0) << line;
    }
    EXPECT_FALSE(fs::exists(Image(i)));
  }
  for (int i = 1; i < 20; i += 2) EXPECT_EQ(JsonAt(manifest.at(i), "/status"), "ok");
  EXPECT_EQ(JsonInt(Report(), "/failed_by_code/http_status"), 10);
}

TEST_F(DedupeRunTest, OffDownloadsEveryUser) {
  ASSERT_TRUE(counted_.ok());
  UsersOn(50, [](int i) { return "/img/" + std::to_string(i % 5) + ".jpg"; });
  ASSERT_EQ(Run({"--filter", "none", "--dedupe", "off"}), 0) << Stderr();
  EXPECT_EQ(Requests(), 50u);
  for (const auto& [id, line] : Manifest()) {
    EXPECT_EQ(line.find("deduplicated_from"), std::string::npos) << line;
  }
  EXPECT_EQ(JsonInt(Report(), "/dedupe/deduplicated"), 0);
}

TEST_F(DedupeRunTest, ContentFiltersIdenticalBytesUnderDifferentUrlsOnce) {
  ASSERT_TRUE(counted_.ok());
  // The fixture serves variant id mod 8: /img/0.jpg, /img/8.jpg, ... are the same bytes.
  UsersOn(10, [](int i) { return "/img/" + std::to_string(8 * i) + ".jpg"; });
  ASSERT_EQ(Run({"--filter", "blur:2", "--workers", "2", "--dedupe", "content"}), 0) << Stderr();
  EXPECT_EQ(Requests(), 10u);  // every URL is downloaded: only the bytes tell
  const auto manifest = Manifest();
  ExpectFollowers(manifest, 10, [](int) { return 0; });
  const std::string report = Report();
  EXPECT_EQ(JsonInt(report, "/workers/jobs_sent"), 1) << report;
  EXPECT_EQ(JsonInt(report, "/dedupe/filter_jobs_saved"), 9) << report;
  EXPECT_EQ(JsonInt(report, "/dedupe/downloads_saved"), 0) << report;
}

TEST_F(DedupeRunTest, KilledMidRunThenResumedEndsWithOneLinePerUserAndTheLeadersBytes) {
  ASSERT_TRUE(counted_.ok());
  // Ten URLs, the k-th answering after k x 300 ms: the run is killed once the first URL's
  // users have their lines, while the others' leaders are still downloading.
  constexpr int kUsers = 200;
  UsersOn(kUsers, [](int i) {
    return "/img/" + std::to_string(i % 10) + ".jpg?latency=" + std::to_string(300 * (i % 10));
  });
  auto run = Start({"--filter", "blur:2", "--workers", "2"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 20; }, 30)) << Stderr();
  ASSERT_EQ(::kill(run->pid(), SIGKILL), 0);
  run->Wait(30);
  const size_t before = ManifestLines();
  ASSERT_LT(before, static_cast<size_t>(kUsers)) << "the run ended before it was killed";
  const size_t requests_before = Requests();

  ASSERT_EQ(Run({"--filter", "blur:2", "--workers", "2", "--resume"}), 0) << Stderr();
  // Only the URLs whose leader had no line yet were fetched again.
  EXPECT_LE(Requests() - requests_before, 9u);
  EXPECT_EQ(ManifestLines(), static_cast<size_t>(kUsers));  // compacted: one line per user
  ExpectFollowers(Manifest(), kUsers, [](int i) { return i % 10; });
}

}  // namespace
}  // namespace pixelmill
