// Downloads as an attacker or a broken API would serve them, through the real coordinator:
// secrets in URLs, NUL bytes, internationalised host names, headers without image data, a
// dead host for thousands of users, and a huge --concurrency. Every target is loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/closed_port.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"
#include "tests/support/programs.h"

namespace pixelmill {
namespace {

using testing::ExitCode;
using testing::JsonAt;
using testing::JsonInt;

class DownloadSafetyTest : public testing::CoordinatorRun {};

// Passwords, query values and fragments never reach the manifest, and a 100 KB URL does not
// make a 100 KB line.
TEST_F(DownloadSafetyTest, SecretsInUrlsAreRedactedEverywhere) {
  const std::string port = std::to_string(api_.port());
  UsersWithUrls({"http://alice:hunter2@127.0.0.1:" + port + "/img/1.jpg?status=404&token=T0PS3CRET",
                 "http://127.0.0.1:" + port + "/img/2.jpg?status=404&sig=" +
                     std::string(100000, 'S') + "#access_token=F4AGMENT",
                 "ftp://bob:pa55word@127.0.0.1/x.jpg"});
  ASSERT_EQ(ExitCode(Start({"--filter", "none", "--retries", "0"})->Wait(30)), 3) << Stderr();
  const std::string manifest = testing::ReadFile(dir_ / "out" / "manifest.jsonl");
  for (const char* secret : {"hunter2", "T0PS3CRET", "SSSSSSSSSS", "F4AGMENT", "pa55word"}) {
    EXPECT_EQ(manifest.find(secret), std::string::npos) << secret << " in " << manifest;
    EXPECT_EQ(Stderr().find(secret), std::string::npos) << secret;
    EXPECT_EQ(Report().find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(manifest.find("alice:***@127.0.0.1"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("token=***"), std::string::npos) << manifest;
  EXPECT_LT(manifest.size(), 3000u);
}

// --allow-private-networks with a list allows those ranges only: the fixture's address is
// fetched, and a redirect from it to another loopback address (127.0.0.2, outside the list) is
// refused before connecting, with the reason.
TEST_F(DownloadSafetyTest, AnAllowListOfRangesRefusesARedirectOutsideIt) {
  const std::string port = std::to_string(api_.port());
  UsersWithUrls({api_.Url("/img/1.jpg"),
                 api_.Url("/img/2.jpg?redirect_to=http://127.0.0.2:" + port + "/img/2.jpg")});
  testing::ChildProcess run(
      {testing::kCoordinatorBinary, "--input", (dir_ / "users.jsonl").string(), "--output",
       (dir_ / "out").string(), "--filter", "none", "--retries", "0", "--allow-private-networks",
       "127.0.0.1/32", "--report", (dir_ / "report.json").string()},
      dir_ / "stdout", dir_ / "stderr");
  ASSERT_EQ(ExitCode(run.Wait(30)), 3) << Stderr();
  auto lines = Manifest();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(JsonAt(lines[0], "/status"), "ok") << lines[0];
  EXPECT_EQ(JsonAt(lines[1], "/error/code"), "blocked_address") << lines[1];
  EXPECT_NE(JsonAt(lines[1], "/error/message").find("127.0.0.2"), std::string::npos) << lines[1];
  EXPECT_NE(JsonAt(lines[1], "/error/message").find("not in --allow-private-networks"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(JsonAt(Report(), "/options/allowed_private_networks"), "127.0.0.1/32") << Report();
  // A malformed list is a usage error before anything runs.
  testing::ChildProcess bad(
      {testing::kCoordinatorBinary, "--input", (dir_ / "users.jsonl").string(), "--output",
       (dir_ / "out2").string(), "--filter", "none", "--allow-private-networks", "127.0.0.1/33"},
      dir_ / "bad.out", dir_ / "bad.err");
  EXPECT_EQ(ExitCode(bad.Wait(30)), 2);
  EXPECT_NE(testing::ReadFile(dir_ / "bad.err").find("'127.0.0.1/33' is not"), std::string::npos)
      << testing::ReadFile(dir_ / "bad.err");
}

// A NUL byte would cut the URL short and fetch something else: the user fails with bad_url.
TEST_F(DownloadSafetyTest, AUrlWithANulByteIsABadUrl) {
  UsersWithUrls({api_.Url("/img/1.jpg\\u0000/../2.jpg"), api_.Url("/img/3.jpg")});
  ASSERT_EQ(ExitCode(Start({"--filter", "none"})->Wait(30)), 3) << Stderr();
  auto lines = Manifest();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(JsonAt(lines[0], "/error/code"), "bad_url") << lines[0];
  EXPECT_NE(JsonAt(lines[0], "/error/message").find("0x00"), std::string::npos) << lines[0];
  EXPECT_EQ(JsonAt(lines[1], "/status"), "ok") << lines[1];
}

// Internationalised host names are converted (IDNA) and fetched; *.localhost is loopback.
TEST_F(DownloadSafetyTest, InternationalisedHostNamesWork) {
  const std::string port = std::to_string(api_.port());
  UsersWithUrls({"http://b\u00fccher.localhost:" + port + "/img/1.jpg",
                 "http://\u043f\u0440\u0438\u043c\u0435\u0440.localhost:" + port + "/img/2.jpg"});
  ASSERT_EQ(ExitCode(Start({"--filter", "none"})->Wait(30)), 0) << Stderr();
  for (auto& [id, line] : Manifest()) {
    EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
  }
}

// A 206 (partial content) and a JPEG header without image data are not images, even when
// nothing decodes them (--filter none).
TEST_F(DownloadSafetyTest, PartialContentAndBareHeadersAreNotImages) {
  UsersWithUrls({api_.Url("/img/1.jpg?status=206"), api_.Url("/img/2.jpg?fault=header_only"),
                 api_.Url("/img/3.jpg")});
  ASSERT_EQ(ExitCode(Start({"--filter", "none"})->Wait(30)), 3) << Stderr();
  auto lines = Manifest();
  EXPECT_EQ(JsonAt(lines[0], "/error/code"), "http_status") << lines[0];
  EXPECT_EQ(JsonAt(lines[1], "/error/code"), "not_image") << lines[1];
  EXPECT_NE(JsonAt(lines[1], "/error/message").find("truncated"), std::string::npos) << lines[1];
  EXPECT_EQ(JsonAt(lines[2], "/status"), "ok") << lines[2];
}

// 20,000 users on a host that refuses connections finish, all failed, with default flags: the
// host is paused, probed and declared down instead of each user retrying alone, so most users
// fail without a request of their own (each retrying alone took minutes; the time is measured
// by `scripts/bench.sh hosts`).
TEST_F(DownloadSafetyTest, ADeadHostFailsItsUsersQuickly) {
  const std::string base =
      "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()) + "/img/";
  std::vector<std::string> urls;
  for (int i = 0; i < 20000; ++i) urls.push_back(base + std::to_string(i) + ".jpg");
  UsersWithUrls(urls);
  ASSERT_EQ(ExitCode(Start({"--filter", "none"})->Wait(120)), 3) << Stderr();
  EXPECT_EQ(ManifestLines(), 20000u);
  EXPECT_EQ(JsonAt(Report(), "/failed"), "20000") << Report();
  const int64_t requests = JsonInt(Report(), "/download/requests");
  ASSERT_GE(requests, 0) << Report();
  // About 70 here; one each would be 20,000 or more.
  EXPECT_LT(requests, 2000) << "users tried the dead host one by one: " << Report();
  EXPECT_NE(testing::ReadFile(dir_ / "out" / "manifest.jsonl").find("host down: "),
            std::string::npos);
}

// --concurrency is a limit, not an allocation: 100,000 with 10 users stays small.
TEST_F(DownloadSafetyTest, HugeConcurrencyAllocatesPerTransferNotPerSlot) {
  Users(10);
  rusage usage{};
  auto run = Start({"--filter", "none", "--concurrency", "100000"});
  ASSERT_EQ(ExitCode(run->Wait(60, &usage)), 0) << Stderr();
  EXPECT_LT(usage.ru_maxrss, 300 * 1024) << "peak RSS in KiB (it was 620 MB)";
}

}  // namespace
}  // namespace pixelmill
