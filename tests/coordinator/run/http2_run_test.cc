// HTTP/2 end to end: the real coordinator against the image-api fixture behind nginx
// (scripts/tls_front.sh: TLS with a CA made for the test, HTTP/2 and HTTP/1.1 by ALPN). Under
// --http-version auto every answer comes over HTTP/2 on one connection; under 1.1 none does;
// without --ca-file the certificate is refused and each user fails with "tls".
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

using testing::ChildProcess;
using testing::ExitCode;
using testing::JsonAt;
using testing::JsonInt;
using testing::TempDir;

// nginx in front of `upstream_port`, stopped with the test.
class TlsFront {
 public:
  explicit TlsFront(int upstream_port) {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/bash", PIXELMILL_SOURCE_DIR "/scripts/tls_front.sh",
                                 std::to_string(upstream_port), dir_.path().string()},
        dir_ / "front.out", dir_ / "front.err");
    testing::WaitFor(
        [&] {
          std::ifstream in(dir_ / "port");
          return static_cast<bool>(in >> port_) && port_ > 0;
        },
        30);
  }
  ~TlsFront() { process_->Stop(5); }

  bool ok() const { return port_ > 0; }
  std::string Url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string ca() const { return (dir_ / "ca.pem").string(); }
  std::string Log() const { return testing::ReadFile(dir_ / "front.err"); }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

class Http2RunTest : public testing::CoordinatorRun {
 protected:
  void SetUp() override {
    CoordinatorRun::SetUp();
    front_ = std::make_unique<TlsFront>(api_.port());
    ASSERT_TRUE(front_->ok()) << front_->Log();
    std::vector<std::string> urls;
    for (int i = 0; i < kUsers; ++i)
      urls.push_back(front_->Url("/img/" + std::to_string(i) + ".jpg"));
    UsersWithUrls(urls);
  }
  int Run(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--filter", "none", "--overwrite", "--retries", "0"});
    return ExitCode(Start(flags)->Wait(120));
  }

  static constexpr int kUsers = 40;
  std::unique_ptr<TlsFront> front_;
};

TEST_F(Http2RunTest, AutoMultiplexesOneConnectionAndOneElevenDoesNot) {
  ASSERT_EQ(Run({"--ca-file", front_->ca()}), 0) << Stderr();
  EXPECT_EQ(JsonInt(Report(), "/download/http_versions/2"), kUsers) << Report();
  EXPECT_EQ(JsonInt(Report(), "/download/http_versions/1.1"), 0);
  EXPECT_EQ(JsonInt(Report(), "/download/connections"), 1);
  EXPECT_EQ(JsonAt(Report(), "/options/http_version"), "auto");

  ASSERT_EQ(Run({"--ca-file", front_->ca(), "--http-version", "1.1", "--per-host", "8"}), 0)
      << Stderr();
  EXPECT_EQ(JsonInt(Report(), "/download/http_versions/1.1"), kUsers) << Report();
  EXPECT_EQ(JsonInt(Report(), "/download/http_versions/2"), 0);
  EXPECT_GT(JsonInt(Report(), "/download/connections"), 1);
  EXPECT_LE(JsonInt(Report(), "/download/connections"), 8 + 2);  // kept alive, reused
}

TEST_F(Http2RunTest, AnUntrustedCertificateFailsEachUserAsTls) {
  ASSERT_EQ(Run({}), 3) << Stderr();
  std::istringstream manifest(testing::ReadFile(dir_ / "out" / "manifest.jsonl"));
  size_t lines = 0;
  for (std::string line; std::getline(manifest, line); ++lines) {
    EXPECT_EQ(JsonAt(line, "/error/code"), "tls") << line;
  }
  EXPECT_EQ(lines, static_cast<size_t>(kUsers));
  // A CA file that is not there stops the run before it starts, naming the flag.
  EXPECT_EQ(Run({"--ca-file", (dir_ / "missing.pem").string()}), 2);
  EXPECT_NE(
      Stderr().find("--ca-file " + (dir_ / "missing.pem").string() + ": No such file or directory"),
      std::string::npos)
      << Stderr();
}

}  // namespace
}  // namespace pixelmill
