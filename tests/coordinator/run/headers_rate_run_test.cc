// --header, --headers-file, --user-agent and --rate end to end: the real coordinator against
// image-api fixtures that demand a header (--require-header: 401 without it) or refuse one
// (--refuse-header: 400 with it), so a header reaching a server, or not, decides the outcome.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::ImageApiProcess;
using testing::JsonAt;
using testing::ReadFile;

constexpr const char* kToken = "Bearer tok-7f3a9c2e51d8";
const std::string kAuth = std::string("Authorization: ") + kToken;

class HeadersRateRunTest : public testing::CoordinatorRun {
 protected:
  int Run(std::vector<std::string> flags) { return ExitCode(Start(flags)->Wait(120)); }
  // Users 0..count-1 on `api`'s /img/<i>.jpg plus `query`.
  void UsersOn(const ImageApiProcess& api, int count, const std::string& query = "") {
    std::vector<std::string> urls;
    for (int i = 0; i < count; ++i)
      urls.push_back(api.Url("/img/" + std::to_string(i) + ".jpg" + query));
    UsersWithUrls(urls);
  }
  // How many manifest lines have `status` (and, when given, `code`).
  size_t Lines(const std::string& status, const std::string& code = "") const {
    size_t n = 0;
    for (const auto& [id, line] : Manifest()) {
      n += JsonAt(line, "/status") == status &&
           (code.empty() || JsonAt(line, "/error/code") == code);
    }
    return n;
  }
  // Every file the run left (the output folder, report, stdout, stderr) that contains `text`.
  std::vector<std::string> FilesHolding(const std::string& text) const {
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(dir_.path())) {
      if (!entry.is_regular_file() || entry.path().filename() == "headers.txt") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      if (bytes.find(text) != std::string::npos) found.push_back(entry.path().string());
    }
    return found;
  }

  ImageApiProcess guarded_{testing::kImageApiBinary, {"--require-header", kAuth}};
  ImageApiProcess other_{testing::kImageApiBinary, {"--refuse-header", "Authorization"}};
};

TEST_F(HeadersRateRunTest, AHeaderFromAFileReachesTheServerAndItsValueIsNowhere) {
  ASSERT_TRUE(guarded_.ok());
  UsersOn(guarded_, 12);
  // Without the header the server refuses every user: its check is real.
  ASSERT_EQ(Run({"--filter", "none", "--retries", "0"}), 3) << Stderr();
  EXPECT_EQ(Lines("failed", "http_status"), 12u);
  const std::string headers = dir_.Write("headers.txt", "# the image API's token\n" + kAuth + "\n");
  ASSERT_EQ(Run({"--filter", "none", "--overwrite", "--headers-file", headers}), 0) << Stderr();
  EXPECT_EQ(Lines("ok"), 12u);
  EXPECT_EQ(FilesHolding(kToken), std::vector<std::string>{}) << "the token leaked";
  EXPECT_EQ(JsonAt(Report(), "/options/header_names/0"), "Authorization");
}

TEST_F(HeadersRateRunTest, AHeaderOnTheCommandLineIsHiddenInTheReportAndTheResumeHint) {
  ASSERT_TRUE(guarded_.ok());
  UsersOn(guarded_, 6);
  ASSERT_EQ(Run({"--filter", "none", "--header", kAuth, "--header", "X-Team: photos"}), 0)
      << Stderr();
  EXPECT_EQ(Lines("ok"), 6u);
  EXPECT_EQ(FilesHolding(kToken), std::vector<std::string>{}) << "the token leaked";
  EXPECT_NE(Report().find("Authorization: ..."), std::string::npos) << Report();
}

TEST_F(HeadersRateRunTest, ARedirectToAnotherHostGoesWithoutTheHeader) {
  ASSERT_TRUE(guarded_.ok() && other_.ok());
  // The other host refuses a request that carries Authorization: its check is real.
  UsersOn(other_, 3);
  ASSERT_EQ(Run({"--filter", "none", "--retries", "0", "--header", kAuth}), 3) << Stderr();
  EXPECT_EQ(Lines("failed", "http_status"), 3u);
  // Each user's own host (which demands the header) redirects to the other host.
  std::vector<std::string> urls;
  for (int i = 0; i < 8; ++i) {
    urls.push_back(guarded_.Url("/img/" + std::to_string(i) + ".jpg?redirect_to=" +
                                other_.Url("/img/" + std::to_string(i) + ".jpg")));
  }
  UsersWithUrls(urls);
  ASSERT_EQ(Run({"--filter", "none", "--overwrite", "--retries", "0", "--header", kAuth}), 0)
      << Stderr();
  EXPECT_EQ(Lines("ok"), 8u);
}

TEST_F(HeadersRateRunTest, UserAgentIsSent) {
  ImageApiProcess agent{testing::kImageApiBinary,
                        {"--require-header", "User-Agent: team-sync/2.1"}};
  ASSERT_TRUE(agent.ok());
  UsersOn(agent, 4);
  ASSERT_EQ(Run({"--filter", "none", "--retries", "0"}), 3) << "the default agent is pixelmill's";
  ASSERT_EQ(Run({"--filter", "none", "--overwrite", "--user-agent", "team-sync/2.1"}), 0)
      << Stderr();
  EXPECT_EQ(Lines("ok"), 4u);
}

TEST_F(HeadersRateRunTest, RateHoldsRequestsBackAndTheReportSaysSo) {
  UsersOn(api_, 25);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Run({"--filter", "none", "--rate", "20", "--burst", "1"}), 0) << Stderr();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(Lines("ok"), 25u);
  // 1 at once, then 20 a second: the 25th request cannot start before 1.2 s. (A lower bound: a
  // busy machine only makes it later.)
  EXPECT_GE(seconds, 1.2);
  EXPECT_GT(std::stod(JsonAt(Report(), "/download/throttled/by_rate_s")), 0.5) << Report();
  EXPECT_EQ(JsonAt(Report(), "/options/rate"), "20");
}

TEST_F(HeadersRateRunTest, BadHeadersAndRatesAreRefusedBeforeAnyDownload) {
  UsersOn(api_, 2);
  EXPECT_EQ(Run({"--filter", "none", "--header", "Authorization Bearer x"}), 2);
  EXPECT_NE(Stderr().find("--header 1: no ':'"), std::string::npos) << Stderr();
  EXPECT_EQ(Run({"--filter", "none", "--headers-file", (dir_ / "nope.txt").string()}), 2);
  EXPECT_NE(Stderr().find("cannot open"), std::string::npos) << Stderr();
  EXPECT_EQ(Run({"--filter", "none", "--burst", "5"}), 2);
  EXPECT_NE(Stderr().find("--burst needs --rate"), std::string::npos) << Stderr();
  EXPECT_EQ(Run({"--filter", "none", "--rate", "-1"}), 2);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "manifest.jsonl"));
}

}  // namespace
}  // namespace pixelmill
