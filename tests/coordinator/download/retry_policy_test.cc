#include "coordinator/download/retry_policy.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(RetryPolicyTest, FullJitterStaysUnderTheDoublingCeiling) {
  RetryOptions options;
  options.base_delay_ms = 100;
  options.max_delay_ms = 1000;
  std::mt19937_64 rng(42);
  for (uint32_t attempt = 1; attempt <= 40; ++attempt) {
    const uint64_t ceiling = std::min<uint64_t>(1000, 100ull << std::min(attempt - 1, 30u));
    uint64_t highest = 0;
    for (int i = 0; i < 200; ++i) {
      const uint64_t d = BackoffMs(options, attempt, rng);
      ASSERT_LE(d, ceiling) << "attempt " << attempt;
      highest = std::max(highest, d);
    }
    EXPECT_GT(highest, ceiling / 2) << "jitter should cover the range, attempt " << attempt;
  }
}

TEST(RetryPolicyTest, RetryAfterSecondsDatesAndGarbage) {
  RetryOptions options;
  options.max_retry_after_ms = 30'000;
  EXPECT_EQ(ParseRetryAfter("2", 0, options), 2000u);
  EXPECT_EQ(ParseRetryAfter(" 0 \r\n", 0, options), 0u);
  EXPECT_EQ(ParseRetryAfter("3600", 0, options), 30'000u);  // capped
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", 0, options), 30'000u);
  // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470, options), 10'000u);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490, options), 0u);
  EXPECT_FALSE(ParseRetryAfter("soon", 0, options).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", 0, options).has_value());
  EXPECT_FALSE(ParseRetryAfter("", 0, options).has_value());
}

Status Classify(CURLcode curl, long status, std::string blocked = "", bool too_large = false) {
  AttemptFacts facts;
  facts.curl = curl;
  facts.http_status = status;
  facts.blocked = std::move(blocked);
  facts.too_large = too_large;
  return ClassifyAttempt(facts);
}

TEST(RetryPolicyTest, ClassifiesAttempts) {
  EXPECT_TRUE(Classify(CURLE_OK, 200).ok());
  EXPECT_TRUE(Classify(CURLE_OK, 203).ok());
  // Other 2xx are not a complete image: 206 partial content, 204 no content.
  for (long status : {201L, 204L, 206L}) {
    auto failure = Classify(CURLE_OK, status);
    ASSERT_FALSE(failure.ok()) << status;
    EXPECT_EQ(failure.code(), Code::kHttpStatus);
    EXPECT_FALSE(failure.retryable());
  }
  struct Case {
    CURLcode curl;
    long status;
    Code code;
    bool retryable;
  };
  for (const Case& c :
       {Case{CURLE_OK, 503, Code::kHttpStatus, true}, Case{CURLE_OK, 500, Code::kHttpStatus, true},
        Case{CURLE_OK, 429, Code::kHttpStatus, true}, Case{CURLE_OK, 404, Code::kHttpStatus, false},
        Case{CURLE_OK, 403, Code::kHttpStatus, false},
        Case{CURLE_COULDNT_CONNECT, 0, Code::kConnect, true},
        Case{CURLE_RECV_ERROR, 0, Code::kConnect, true},
        Case{CURLE_GOT_NOTHING, 0, Code::kConnect, true},
        Case{CURLE_OPERATION_TIMEDOUT, 0, Code::kTimeout, true},
        Case{CURLE_PARTIAL_FILE, 200, Code::kTruncated, true},
        Case{CURLE_COULDNT_RESOLVE_HOST, 0, Code::kDns, false},
        Case{CURLE_UNSUPPORTED_PROTOCOL, 0, Code::kBadUrl, false},
        Case{CURLE_TOO_MANY_REDIRECTS, 302, Code::kTooManyRedirects, false},
        Case{CURLE_FILESIZE_EXCEEDED, 200, Code::kTooLarge, false}}) {
    auto f = Classify(c.curl, c.status);
    ASSERT_FALSE(f.ok()) << c.code;
    EXPECT_EQ(f.code(), c.code);
    EXPECT_EQ(f.retryable(), c.retryable) << c.code << " " << c.status;
  }
  EXPECT_EQ(Classify(CURLE_COULDNT_CONNECT, 0, "10.0.0.1 (private)").code(), Code::kBlockedAddress);
  EXPECT_FALSE(Classify(CURLE_COULDNT_CONNECT, 0, "10.0.0.1 (private)").retryable());
  EXPECT_TRUE(Classify(CURLE_OK, 200, "::1 (loopback)").ok());  // another address won
  EXPECT_EQ(Classify(CURLE_WRITE_ERROR, 200, "", true).code(), Code::kTooLarge);
}

// Limits libcurl puts on what a server sends are the server's fault, named as such and not
// retried: neither "network: Out of memory", nor a bad URL, nor a connect error.
TEST(RetryPolicyTest, ServerFaultsCurlRefusesAreBadResponses) {
  struct Case {
    CURLcode curl;
    const char* curl_error;
    const char* message;
  };
  for (const Case& c : {
           Case{CURLE_OUT_OF_MEMORY, "", "over libcurl's 100 KB limit"},
           Case{CURLE_RECV_ERROR, "Too large response headers: 307802 > 307200",
                "over libcurl's 300 KB limit"},
           Case{CURLE_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed",
                "answered with HTTP/0.9 (no status line)"},
           Case{CURLE_WEIRD_SERVER_REPLY, "Invalid status line", "not valid HTTP"},
       }) {
    AttemptFacts facts;
    facts.curl = c.curl;
    facts.curl_error = c.curl_error;
    Status f = ClassifyAttempt(facts);
    ASSERT_FALSE(f.ok()) << c.message;
    EXPECT_EQ(f.code(), Code::kBadResponse) << c.message;
    EXPECT_NE(f.message().find(c.message), std::string::npos) << f.message();
    EXPECT_FALSE(f.retryable()) << c.message;
  }
  // The same codes for other reasons keep their meaning.
  EXPECT_EQ(Classify(CURLE_RECV_ERROR, 0).code(), Code::kConnect);
  EXPECT_EQ(Classify(CURLE_UNSUPPORTED_PROTOCOL, 0).code(), Code::kBadUrl);
}

}  // namespace
}  // namespace pixelmill
