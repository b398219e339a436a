// BlockingFetch (--sequential's download) against the real image-api fixture: the Downloader's
// policy through the same code (codes, retries, redirects, caps, address check, host health),
// and a stop request that abandons the download.
#include "coordinator/download/blocking_fetch.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/support/closed_port.h"
#include "tests/support/image_api_process.h"

namespace pixelmill {
namespace {

using testing::ImageApiProcess;

const std::string kImageApi = PIXELMILL_IMAGE_API;

DownloadOptions TestOptions() {
  DownloadOptions o;
  o.allow_private_networks = true;  // the fixture is on loopback
  o.timeout_ms = 5000;
  o.retry.retries = 2;
  o.retry.base_delay_ms = 10;
  o.seed = 7;
  return o;
}

class BlockingFetchTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(api_.ok()); }
  Download Get(BlockingFetch& fetch, const std::string& path_or_url) {
    const std::string url = path_or_url.rfind("/", 0) == 0 ? api_.Url(path_or_url) : path_or_url;
    std::optional<Download> d = fetch.Fetch(url);
    EXPECT_TRUE(d.has_value()) << url;
    return d ? std::move(*d) : Download{};
  }
  ImageApiProcess api_{kImageApi};
};

TEST_F(BlockingFetchTest, ImagesFailuresRetriesAndRedirects) {
  BlockingFetch fetch(TestOptions());
  ASSERT_TRUE(fetch.Init().ok());
  Download ok = Get(fetch, "/img/1.jpg");
  EXPECT_TRUE(ok.failure.ok()) << ok.failure.message();
  EXPECT_GT(ok.body.size(), 100u);
  EXPECT_EQ(ok.attempts, 1u);
  EXPECT_EQ(ok.content_type, "image/jpeg");

  Download missing = Get(fetch, "/img/2.jpg?status=404");
  ASSERT_FALSE(missing.failure.ok());
  EXPECT_EQ(missing.failure.code(), Code::kHttpStatus);
  EXPECT_NE(missing.failure.message().find("HTTP 404 from http://127.0.0.1:"), std::string::npos)
      << missing.failure.message();
  EXPECT_NE(missing.failure.message().find("after 1 attempt"), std::string::npos);

  Download retried = Get(fetch, "/img/3.jpg?status=503&fail_times=2");
  EXPECT_TRUE(retried.failure.ok());
  EXPECT_EQ(retried.attempts, 3u);

  Download gave_up = Get(fetch, "/img/4.jpg?status=500");
  ASSERT_FALSE(gave_up.failure.ok());
  EXPECT_EQ(gave_up.attempts, 3u);
  EXPECT_NE(gave_up.failure.message().find("after 3 attempts"), std::string::npos);

  Download hops = Get(fetch, "/img/5.png?redirect=3");
  EXPECT_TRUE(hops.failure.ok());
  EXPECT_EQ(hops.attempts, 1u);  // hops are part of one attempt

  Download loop = Get(fetch, "/img/6.png?redirect=6");
  ASSERT_FALSE(loop.failure.ok());
  EXPECT_EQ(loop.failure.code(), Code::kTooManyRedirects);

  Download bad_target = Get(fetch, "/img/7.jpg?redirect_to=file:///etc/passwd");
  ASSERT_FALSE(bad_target.failure.ok());
  EXPECT_EQ(bad_target.failure.code(), Code::kBadUrl);
  EXPECT_NE(bad_target.failure.message().find("redirect to file:///etc/passwd refused"),
            std::string::npos)
      << bad_target.failure.message();

  Download bad_url = Get(fetch, "gopher://127.0.0.1/x");
  ASSERT_FALSE(bad_url.failure.ok());
  EXPECT_EQ(bad_url.failure.code(), Code::kBadUrl);
  EXPECT_EQ(bad_url.attempts, 0u);

  EXPECT_EQ(fetch.stats().retries, 4u);
  EXPECT_EQ(fetch.stats().ok, 3u);
  EXPECT_EQ(fetch.stats().failed, 5u);
}

// --sequential names a server's malformed answers as the downloader does: bad_response, once.
TEST_F(BlockingFetchTest, MalformedAnswersAreBadResponsesNotRetried) {
  BlockingFetch fetch(TestOptions());
  ASSERT_TRUE(fetch.Init().ok());
  for (const char* fault : {"huge_header", "huge_headers", "http09"}) {
    Download d = Get(fetch, std::string("/img/1.jpg?fault=") + fault);
    ASSERT_FALSE(d.failure.ok()) << fault;
    EXPECT_EQ(d.failure.code(), Code::kBadResponse) << fault << ": " << d.failure.message();
    EXPECT_EQ(d.attempts, 1u) << fault;
  }
}

TEST_F(BlockingFetchTest, ByteCapAndAddressCheck) {
  DownloadOptions capped = TestOptions();
  capped.max_image_bytes = 100'000;
  BlockingFetch fetch(capped);
  ASSERT_TRUE(fetch.Init().ok());
  for (const char* fault : {"huge", "huge_chunked"}) {
    Download big = Get(fetch, std::string("/img/1.jpg?fault=") + fault + "&bytes=1000000");
    ASSERT_FALSE(big.failure.ok()) << fault;
    EXPECT_EQ(big.failure.code(), Code::kTooLarge) << fault;
  }

  BlockingFetch strict(DownloadOptions{});  // loopback refused, as by default
  ASSERT_TRUE(strict.Init().ok());
  Download blocked = Get(strict, "/img/1.jpg");
  ASSERT_FALSE(blocked.failure.ok());
  EXPECT_EQ(blocked.failure.code(), Code::kBlockedAddress);
  EXPECT_NE(blocked.failure.message().find("127.0.0.1 (loopback"), std::string::npos)
      << blocked.failure.message();
}

// A host that refuses connections is paused after 5 failures, probed, then down: later users
// fail at once with "host down", as in the Downloader.
TEST_F(BlockingFetchTest, DeadHostGoesDown) {
  DownloadOptions o = TestOptions();
  o.retry.retries = 0;
  o.health.first_pause_ms = 20;
  BlockingFetch fetch(o);
  ASSERT_TRUE(fetch.Init().ok());
  const std::string url =
      "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()) + "/img/1.jpg";
  std::string last;
  for (int i = 0; i < 12; ++i) {
    Download d = Get(fetch, url);
    ASSERT_FALSE(d.failure.ok());
    EXPECT_EQ(d.failure.code(), Code::kConnect);
    last = d.failure.message();
  }
  EXPECT_NE(last.find("host down"), std::string::npos) << last;
  EXPECT_LT(fetch.stats().requests, 12u);
}

// Fetch() gives nullopt only when stopped; one that ignored the stop would return the download
// (its answer comes after 3 s, within the 5 s timeout).
TEST_F(BlockingFetchTest, StopAbandonsTheDownload) {
  bool stop = false;
  BlockingFetch fetch(TestOptions(), [&] { return stop; });
  ASSERT_TRUE(fetch.Init().ok());
  stop = true;
  EXPECT_FALSE(fetch.Fetch(api_.Url("/img/1.jpg?latency=3000")).has_value());
}

}  // namespace
}  // namespace pixelmill
