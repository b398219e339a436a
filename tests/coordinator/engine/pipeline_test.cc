// The coordinator binary end to end with --filter none against the image-api fixture: every
// user ends as exactly one manifest line, images land under their final names, exit codes.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/held_redirect.h"
#include "tests/support/image_api_process.h"
#include "tests/support/json_at.h"
#include "tests/support/programs.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ImageApiProcess;
using testing::JsonAt;
using testing::JsonDouble;
using testing::JsonLinesWith;

using testing::kCoordinatorBinary;
using testing::kImageApiBinary;

std::string Slurp(const fs::path& path) { return testing::ReadFile(path); }

// id -> its manifest line; fails the test on a second line for one id.
std::map<int64_t, std::string> ManifestById(const fs::path& manifest) {
  std::vector<std::string> problems;
  std::map<int64_t, std::string> lines = testing::ManifestById(manifest, &problems);
  EXPECT_TRUE(problems.empty()) << "repeated or id-less lines: " << problems.front();
  return lines;
}

class PipelineTest : public ::testing::Test {
 protected:
  std::string WriteUsers(const std::vector<std::string>& urls) {
    std::string text;
    for (size_t i = 0; i < urls.size(); ++i) {
      text +=
          R"({"id": )" + std::to_string(i) + R"(, "name": "u", "image_url": ")" + urls[i] + "\"}\n";
    }
    return dir_.Write("users.jsonl", text);
  }

  int RunCoordinator(const std::string& args) {
    const std::string line = "timeout 120 " + kCoordinatorBinary + " " + args + " >" +
                             (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
    const int status = std::system(line.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  testing::TempDir dir_;
};

TEST_F(PipelineTest, MixedPopulationEndsWithOneLinePerUser) {
  ImageApiProcess server(kImageApiBinary);
  ASSERT_TRUE(server.ok());
  std::vector<std::string> urls;
  for (int i = 0; i < 50; ++i) urls.push_back(server.Url("/img/" + std::to_string(i) + ".jpg"));
  urls.push_back(server.Url("/img/50.png"));                           // 50 ok png
  urls.push_back(server.Url("/img/51.jpg?status=404"));                // 51 http_status
  urls.push_back(server.Url("/img/52.jpg?status=503&fail_times=1"));   // 52 ok after a retry
  urls.push_back(server.Url("/img/53.jpg?fault=html"));                // 53 not_image
  urls.push_back(server.Url("/img/54.jpg?fault=wrongtype"));           // 54 ok, saved as .jpg
  urls.push_back("gopher://127.0.0.1/x");                              // 55 bad_url
  urls.push_back(server.Url("/img/56.jpg?fault=huge&bytes=3000000"));  // 56 too_large
  const fs::path out = dir_ / "out";
  const int code = RunCoordinator("--input " + WriteUsers(urls) + " --output " + out.string() +
                                  " --allow-private-networks --max-image-bytes 1000000 --report " +
                                  (dir_ / "report.json").string());
  EXPECT_EQ(code, 3) << Slurp(dir_ / "stderr");
  std::map<int64_t, std::string> lines = ManifestById(out / "manifest.jsonl");
  ASSERT_EQ(lines.size(), urls.size());
  const std::map<int64_t, std::string> failed = {
      {51, "http_status"}, {53, "not_image"}, {55, "bad_url"}, {56, "too_large"}};
  for (auto& [id, line] : lines) {
    auto f = failed.find(id);
    if (f == failed.end()) {
      EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
      const std::string ext = id == 50 ? "png" : "jpg";
      const std::string path = "images/" + std::to_string(id) + "." + ext;
      EXPECT_EQ(JsonAt(line, "/output"), path) << line;
      EXPECT_GT(fs::file_size(out / path), 100u);
    } else {
      EXPECT_EQ(JsonAt(line, "/status"), "failed") << line;
      EXPECT_EQ(JsonAt(line, "/error/code"), f->second) << line;
    }
  }
  EXPECT_EQ(JsonAt(lines[52], "/attempts"), "2") << lines[52];
  for (const auto& entry : fs::directory_iterator(out / "images")) {
    EXPECT_EQ(entry.path().extension(), entry.path().extension() == ".png" ? ".png" : ".jpg")
        << "leftover " << entry.path();
  }
  const std::string report = Slurp(dir_ / "report.json");
  EXPECT_EQ(JsonAt(report, "/users_total"), "57") << report;
  EXPECT_EQ(JsonAt(report, "/ok"), "53") << report;
  EXPECT_EQ(JsonAt(report, "/failed"), "4") << report;
  EXPECT_GT(JsonDouble(report, "/download/p99_ms"), 0) << report;
  EXPECT_GT(JsonDouble(report, "/wall_seconds"), 0) << report;
}

// Downloads overlap: user 0's download is held on the wire (HeldRedirect) until another user's
// line is written. One download at a time would write none while it waits: the held request
// would end by the download's timeout (30 s) or the hold's (60 s), not by a line.
TEST_F(PipelineTest, AllOkExitsZeroAndOverlapsDownloads) {
  ImageApiProcess server(kImageApiBinary, {"--latency-ms", "100"});
  ASSERT_TRUE(server.ok());
  const fs::path out = dir_ / "out";
  testing::HeldRedirect held(server.Url("/img/0.webp"), [&] {
    return JsonLinesWith(Slurp(out / "manifest.jsonl"), "/status", "ok") > 0;
  });
  ASSERT_TRUE(held.ok());
  std::vector<std::string> urls = {held.Url("/img/0.webp")};
  for (int i = 1; i < 200; ++i) urls.push_back(server.Url("/img/" + std::to_string(i) + ".webp"));
  const int code = RunCoordinator("--input " + WriteUsers(urls) + " --output " + out.string() +
                                  " --allow-private-networks --concurrency 200 --per-host 200");
  EXPECT_TRUE(held.released()) << "no other user finished while user 0 was downloading";
  EXPECT_EQ(code, 0) << Slurp(dir_ / "stderr");
  EXPECT_EQ(ManifestById(out / "manifest.jsonl").size(), 200u);
  EXPECT_TRUE(fs::exists(out / "images" / "0.webp"));
  EXPECT_TRUE(fs::exists(out / "images" / "199.webp"));
}

TEST_F(PipelineTest, WithoutTheFlagLoopbackIsRefusedPerUser) {
  ImageApiProcess server(kImageApiBinary);
  ASSERT_TRUE(server.ok());
  const fs::path out = dir_ / "out";
  const int code = RunCoordinator("--input " + WriteUsers({server.Url("/img/1.jpg")}) +
                                  " --output " + out.string());
  EXPECT_EQ(code, 3);
  const std::string manifest = Slurp(out / "manifest.jsonl");
  EXPECT_EQ(JsonAt(manifest, "/error/code"), "blocked_address") << manifest;
  EXPECT_NE(JsonAt(manifest, "/error/message").find("--allow-private-networks"), std::string::npos)
      << manifest;
}

// Thousands of users failing at once (refused URLs) each still get exactly one line: manifest
// writes finishing while others are being queued must not overlap.
TEST_F(PipelineTest, ManyInstantFailuresEachGetOneLine) {
  ImageApiProcess server(kImageApiBinary);
  ASSERT_TRUE(server.ok());
  std::vector<std::string> urls;
  for (int i = 0; i < 3000; ++i) {
    urls.push_back(i % 10 == 0 ? server.Url("/img/" + std::to_string(i) + ".jpg")
                               : "ftp://127.0.0.1/" + std::to_string(i));
  }
  const fs::path out = dir_ / "out";
  const int code = RunCoordinator("--input " + WriteUsers(urls) + " --output " + out.string() +
                                  " --allow-private-networks");
  EXPECT_EQ(code, 3) << Slurp(dir_ / "stderr");
  std::map<int64_t, std::string> lines = ManifestById(out / "manifest.jsonl");
  ASSERT_EQ(lines.size(), urls.size());
  for (auto& [id, line] : lines) {
    if (id % 10 == 0) {
      ASSERT_EQ(JsonAt(line, "/status"), "ok") << line;
    } else {
      ASSERT_EQ(JsonAt(line, "/error/code"), "bad_url") << line;
    }
  }
}

// SIGINT mid-run: the coordinator stops, keeps every finished line, exits 1, leaks nothing.
TEST_F(PipelineTest, InterruptKeepsFinishedLines) {
  ImageApiProcess server(kImageApiBinary, {"--latency-ms", "200"});
  ASSERT_TRUE(server.ok());
  std::vector<std::string> urls;
  for (int i = 0; i < 400; ++i) urls.push_back(server.Url("/img/" + std::to_string(i) + ".jpg"));
  const std::string users = WriteUsers(urls);
  const fs::path out = dir_ / "out";
  testing::ChildProcess run({kCoordinatorBinary, "--input", users, "--output", out.string(),
                             "--allow-private-networks", "--concurrency", "10"});
  ASSERT_TRUE(run.started());
  testing::WaitFor(
      [&] {
        return fs::exists(out / "manifest.jsonl") && fs::file_size(out / "manifest.jsonl") > 0;
      },
      20);
  ::kill(run.pid(), SIGINT);
  const int status = run.Wait(60);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal or hung: crash, leak check or timeout";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const size_t lines = ManifestById(out / "manifest.jsonl").size();
  EXPECT_GT(lines, 0u);
  EXPECT_LT(lines, urls.size());
}

}  // namespace
}  // namespace pixelmill
