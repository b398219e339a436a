// CoordinatorRun: a test fixture that runs the real coordinator binary on users whose images
// come from a real image-api fixture server, in a temp folder, and reads back what it wrote
// (manifest, report, stderr). Header-only; used by the end-to-end coordinator tests.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/output/output_layout.h"
#include "tests/support/child_process.h"
#include "tests/support/image_api_process.h"
#include "tests/support/json_at.h"
#include "tests/support/programs.h"
#include "tests/support/temp_dir.h"

namespace pixelmill::testing {

class CoordinatorRun : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(api_.ok()); }

  // JSONL users whose image URL is the fixture's /img/<id>.jpg plus `query(id)`.
  std::string Users(int count, const std::function<std::string(int)>& query = nullptr) {
    std::string text;
    for (int i = 0; i < count; ++i) {
      text += R"({"id": )" + std::to_string(i) + R"(, "name": "u", "image_url": ")" +
              api_.Url("/img/" + std::to_string(i) + ".jpg" + (query ? query(i) : "")) + "\"}\n";
    }
    return dir_.Write("users.jsonl", text);
  }

  // JSONL users with these image URLs (ids 0, 1, ...); the URLs are JSON-escaped as given.
  std::string UsersWithUrls(const std::vector<std::string>& urls) {
    std::string text;
    for (size_t i = 0; i < urls.size(); ++i) {
      text +=
          R"({"id": )" + std::to_string(i) + R"(, "name": "u", "image_url": ")" + urls[i] + "\"}\n";
    }
    return dir_.Write("users.jsonl", text);
  }

  // Runs a coordinator (by default the built one) on users.jsonl with `flags`.
  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& flags,
                                      const std::string& coordinator = kCoordinatorBinary) {
    std::vector<std::string> argv = {coordinator,
                                     "--input",
                                     (dir_ / "users.jsonl").string(),
                                     "--output",
                                     (dir_ / "out").string(),
                                     "--allow-private-networks",
                                     "--report",
                                     (dir_ / "report.json").string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return std::make_unique<ChildProcess>(argv, dir_ / "stdout", dir_ / "stderr");
  }

  std::string Stderr() const { return ReadFile(dir_ / "stderr"); }
  std::string Report() const { return ReadFile(dir_ / "report.json"); }
  size_t ManifestLines() const {
    const std::string text = ReadFile(dir_ / "out" / OutputLayout::kManifest);
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  // id -> manifest line; fails on a second line for an id.
  std::map<int64_t, std::string> Manifest() const {
    std::vector<std::string> problems;
    auto lines = ManifestById(dir_ / "out" / OutputLayout::kManifest, &problems);
    EXPECT_TRUE(problems.empty()) << "repeated or id-less lines: " << problems.front();
    return lines;
  }
  // The tcp endpoint the coordinator printed for remote workers.
  std::string RemoteEndpoint() const {
    std::string endpoint;
    WaitFor(
        [&] {
          const std::string err = Stderr();
          const size_t at = err.find("connect to tcp://");
          if (at == std::string::npos) return false;
          const size_t start = at + std::string("connect to ").size();
          endpoint = err.substr(start, err.find_first_of(" \n", start) - start);
          return true;
        },
        10);
    return endpoint;
  }
  std::unique_ptr<ChildProcess> StartWorker(const std::string& endpoint, const std::string& name,
                                            const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {kWorkerBinary, "--connect", endpoint};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return std::make_unique<ChildProcess>(argv, dir_ / (name + ".out"), dir_ / (name + ".err"));
  }

  ImageApiProcess api_{kImageApiBinary};
  TempDir dir_;
};

}  // namespace pixelmill::testing
