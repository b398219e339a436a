// Helpers shared by the C++ API tests (api_test.cc, api_streaming_test.cc): run options for a
// test, a mixed population of users, and the record checks every API run must pass. Header-only;
// uses the public header and the header-only test support only, as a consumer would.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pixelmill/pixelmill.h"
#include "tests/support/image_api_process.h"

namespace pixelmill::testing {

// One local worker, a cheap filter, loopback URLs allowed, no retries.
inline RunOptions TestOptions(const std::string& out) {
  RunOptions options;
  options.output_dir = out;
  options.filter = "thumbnail:32";
  options.workers = 1;
  options.worker_binary = PIXELMILL_WORKER;
  options.allow_private_networks = true;
  options.retries = 0;
  options.timeout_s = 20;
  return options;
}

// Ids out of order, so input order is not id order: ok, 404, bad URL, corrupt image, ok.
inline std::vector<User> MixedUsers(const ImageApiProcess& api) {
  return {{50, "ok jpeg", api.Url("/img/50.jpg")},
          {2, "not found", api.Url("/img/2.jpg?status=404")},
          {31, "bad url", "not a url at all"},
          {4, "corrupt", api.Url("/img/4.jpg?fault=corrupt")},
          {1, "ok png", api.Url("/img/1.png")}};
}

// What every run's records must be: one per input user, ids in input order; an ok record names
// an existing non-empty file and no error, a failed one an error code and message, a not-done
// one "not_done"; the counts add up.
inline void ExpectOneRecordPerUser(const RunSummary& summary, const std::vector<User>& users) {
  ASSERT_EQ(summary.results.size(), users.size()) << summary.error;
  size_t ok = 0, failed = 0, not_done = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    const UserResult& r = summary.results[i];
    ASSERT_EQ(r.id, users[i].id) << "record " << i << " out of input order";
    switch (r.state) {
      case UserResult::State::kOk: {
        ++ok;
        EXPECT_TRUE(r.ok) << r.id;
        EXPECT_TRUE(r.error_code.empty()) << r.id << ": " << r.error_code;
        std::error_code ec;
        EXPECT_GT(std::filesystem::file_size(r.output_path, ec), 0u)
            << r.id << ": " << r.output_path;
        EXPECT_FALSE(ec) << r.id << ": " << r.output_path << ": " << ec.message();
        break;
      }
      case UserResult::State::kFailed:
        ++failed;
        EXPECT_FALSE(r.ok) << r.id;
        EXPECT_FALSE(r.error_code.empty()) << r.id;
        EXPECT_FALSE(r.error_message.empty()) << r.id;
        EXPECT_TRUE(r.output_path.empty()) << r.id;
        break;
      case UserResult::State::kNotDone:
        ++not_done;
        EXPECT_FALSE(r.ok) << r.id;
        EXPECT_EQ(r.error_code, "not_done") << r.id;
        break;
    }
  }
  EXPECT_EQ(summary.ok, ok);
  EXPECT_EQ(summary.failed, failed);
  EXPECT_EQ(summary.not_done, not_done);
}

}  // namespace pixelmill::testing
