// --sequential end to end: one user at a time against the parallel pipeline on the same users from
// the fixture (real images, a real filter, failures of every kind): the same manifest contract (one
// line per user, same statuses, codes, outputs, sizes, dimensions) and byte-identical output files;
// no worker process; a signal stops it in order and --resume finishes the run.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/held_redirect.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::LineField;
using testing::WaitFor;

class SequentialTest : public testing::CoordinatorRun {
 protected:
  // Users of every kind: real JPEG, PNG, WebP and GIF images, one that needs retries, one
  // behind redirects, and failures (404, a bad scheme, a malformed URL, HTML, a corrupt image,
  // a server that keeps answering 503, a body over the byte cap, a redirect to a refused scheme,
  // too many redirects). The fixture counts fail_times per exact URL, so each run (`run`) gets
  // its own.
  void MixedUsers(const std::string& run) {
    const char* formats[] = {"jpg", "png", "webp", "gif"};
    std::vector<std::string> urls;
    for (int i = 0; i < 16; ++i) {
      urls.push_back(api_.Url("/img/" + std::to_string(i) + "." + formats[i % 4]));
    }
    urls.push_back(api_.Url("/img/16.jpg?status=503&fail_times=2&run=" + run));  // ok on try 3
    urls.push_back(api_.Url("/img/17.png?redirect=2"));
    urls.push_back(api_.Url("/img/18.jpg?status=404"));
    urls.push_back("ftp://127.0.0.1/img/19.jpg");
    urls.push_back("http://");
    urls.push_back(api_.Url("/img/21.jpg?fault=html"));
    urls.push_back(api_.Url("/img/22.jpg?fault=corrupt"));
    urls.push_back(api_.Url("/img/23.jpg?status=503"));
    urls.push_back(api_.Url("/img/24.jpg?fault=huge&bytes=3000000"));
    urls.push_back(api_.Url("/img/25.jpg?redirect_to=ftp://example.com/25.jpg"));
    urls.push_back(api_.Url("/img/26.jpg?redirect=9"));
    UsersWithUrls(urls);
  }
  static std::vector<std::string> Flags(const std::vector<std::string>& extra) {
    std::vector<std::string> flags = {"--filter",  "blur:5", "--format",          "png",
                                      "--retries", "2",      "--max-image-bytes", "2000000"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
  }
};

TEST_F(SequentialTest, SameManifestAndPixelsAsThePipeline) {
  MixedUsers("pipeline");
  auto pipeline = Start(Flags({"--workers", "2"}));
  ASSERT_EQ(ExitCode(pipeline->Wait(120)), 3) << Stderr();
  const std::map<int64_t, std::string> expected = Manifest();
  fs::rename(dir_ / "out", dir_ / "pipeline");
  MixedUsers("sequential");

  auto sequential = Start(Flags({"--sequential"}));
  // No worker process, ever. (Only the worker binary counts: LeakSanitizer's tracer, cloned at
  // exit under ASan, is a child too.)
  const std::string worker = fs::canonical(testing::kWorkerBinary).string();
  bool had_worker = false;
  while (!WaitFor([&] { return testing::Gone(sequential->pid()); }, 0.01)) {
    for (pid_t child : sequential->Children()) {
      std::error_code ec;
      const fs::path exe = fs::read_symlink("/proc/" + std::to_string(child) + "/exe", ec);
      had_worker |= !ec && exe.string() == worker;
    }
  }
  ASSERT_EQ(ExitCode(sequential->Wait(120)), 3) << Stderr();
  EXPECT_FALSE(had_worker);
  EXPECT_NE(Stderr().find("done: 27 users, 18 ok, 9 failed"), std::string::npos) << Stderr();
  const std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 27u);
  ASSERT_EQ(expected.size(), 27u);
  for (const auto& [id, line] : lines) {
    const std::string& want = expected.at(id);
    for (const char* key : {"status", "code", "output", "bytes", "format", "content_type", "width",
                            "height", "attempts", "download_attempts", "filter"}) {
      EXPECT_EQ(LineField(line, key), LineField(want, key))
          << key << "\n  sequential: " << line << "\n  pipeline:   " << want;
    }
    EXPECT_EQ(LineField(line, "message"), LineField(want, "message")) << line;
    if (LineField(line, "status") != "ok") continue;
    EXPECT_NE(LineField(line, "worker").find(":sequential"), std::string::npos) << line;
    const std::string output = LineField(line, "output");
    const std::string bytes = testing::ReadFile(dir_ / "out" / output);
    ASSERT_FALSE(bytes.empty()) << line;
    EXPECT_TRUE(bytes == testing::ReadFile(dir_ / "pipeline" / output))
        << "output " << output << " differs from the pipeline's";
  }
  // The codes the failing users end with, in both modes.
  const std::map<int64_t, std::string> codes = {
      {18, "http_status"}, {19, "bad_url"},   {20, "bad_url"},
      {21, "not_image"},   {22, "not_image"}, {23, "http_status"},
      {24, "too_large"},   {25, "bad_url"},   {26, "too_many_redirects"}};
  for (const auto& [id, code] : codes) EXPECT_EQ(LineField(lines.at(id), "code"), code) << id;
  EXPECT_EQ(LineField(lines.at(16), "download_attempts"), "3") << lines.at(16);
  EXPECT_EQ(LineField(lines.at(23), "attempts"), "3") << lines.at(23);
  EXPECT_NE(Report().find("\"retries\":4"), std::string::npos) << Report();
  EXPECT_NE(testing::ReadFile(dir_ / "out" / "run.json").find("\"complete\":true"),
            std::string::npos);
}

// Without --allow-private-networks the resolved-address check (curl's open-socket callback)
// refuses the fixture's loopback address, as in the pipeline.
TEST_F(SequentialTest, AddressCheckApplies) {
  UsersWithUrls(
      {api_.Url("/img/0.jpg"), "http://localhost:" + std::to_string(api_.port()) + "/img/1.jpg"});
  std::vector<std::string> argv = {testing::kCoordinatorBinary,     "--input",
                                   (dir_ / "users.jsonl").string(), "--output",
                                   (dir_ / "out").string(),         "--sequential"};
  testing::ChildProcess run(argv, dir_ / "stdout", dir_ / "stderr");
  ASSERT_EQ(ExitCode(run.Wait(60)), 3) << Stderr();
  const std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(LineField(lines.at(0), "code"), "blocked_address") << lines.at(0);
  EXPECT_NE(lines.at(0).find("loopback"), std::string::npos) << lines.at(0);
  EXPECT_EQ(LineField(lines.at(1), "code"), "blocked_address") << lines.at(1);
  EXPECT_NE(lines.at(1).find("pass --allow-private-networks"), std::string::npos) << lines.at(1);
}

// A first SIGINT lets the user in flight finish and starts no other; the run says how to
// resume, and --resume (still --sequential) completes it with one line per user.
TEST_F(SequentialTest, SignalStopsInOrderAndResumeCompletes) {
  Users(40, [](int) { return "?latency=100"; });
  auto run = Start({"--sequential", "--filter", "grayscale"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 3; }, 30)) << Stderr();
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  ASSERT_EQ(ExitCode(run->Wait(30)), 1) << Stderr();
  EXPECT_NE(Stderr().find("interrupted by SIGINT"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("--sequential --filter grayscale --resume"), std::string::npos)
      << Stderr();
  const size_t saved = ManifestLines();
  EXPECT_LT(saved, 40u);
  EXPECT_EQ(Manifest().size(), saved);

  auto resume = Start({"--sequential", "--filter", "grayscale", "--resume"});
  ASSERT_EQ(ExitCode(resume->Wait(60)), 0) << Stderr();
  EXPECT_NE(Stderr().find("(" + std::to_string(saved) + " skipped)"), std::string::npos)
      << Stderr();
  const std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 40u);
  for (const auto& [id, line] : lines) {
    ASSERT_EQ(LineField(line, "status"), "ok") << line;
    EXPECT_EQ(LineField(line, "format"), "jpeg") << line;
    EXPECT_TRUE(fs::is_regular_file(dir_ / "out" / LineField(line, "output"))) << line;
  }
}

// A stop abandons the download in flight: the first SIGINT lets it go on (within --grace), the
// second stops the run at once, without waiting for the server (which holds the request until
// the test ends) or the attempt's timeout; the user is left for a resume.
TEST_F(SequentialTest, SecondSignalAbandonsTheDownloadInFlight) {
  std::atomic<bool> arrived{false};
  testing::HeldRedirect held(api_.Url("/img/0.jpg"), [&] {
    arrived = true;
    return false;
  });
  ASSERT_TRUE(held.ok());
  UsersWithUrls({held.Url("/img/0.jpg"), api_.Url("/img/1.jpg")});
  auto run = Start({"--sequential", "--filter", "grayscale", "--timeout", "600", "--grace", "600"});
  ASSERT_TRUE(WaitFor([&] { return arrived.load(); }, 30)) << Stderr();
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  ASSERT_TRUE(
      WaitFor([&] { return Stderr().find("starting no new user") != std::string::npos; }, 30))
      << Stderr();
  EXPECT_EQ(run->Wait(0), -1);  // the first signal waits for the download
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  ASSERT_EQ(ExitCode(run->Wait(30)), 1) << Stderr();
  EXPECT_NE(Stderr().find("interrupted by SIGINT"), std::string::npos) << Stderr();
  EXPECT_EQ(ManifestLines(), 0u);
  EXPECT_FALSE(held.released());
}

// `crash` (which would kill the coordinator running it in process) is a test-only build's
// filter: the coordinator refuses it as unknown before starting.
TEST_F(SequentialTest, CrashFilterIsAUsageError) {
  Users(1);
  auto run = Start({"--sequential", "--filter", "crash"});
  EXPECT_EQ(ExitCode(run->Wait(30)), 2);
  EXPECT_NE(Stderr().find("unknown filter 'crash'"), std::string::npos) << Stderr();
}

}  // namespace
}  // namespace pixelmill
