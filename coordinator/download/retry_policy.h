// When a download failed, what it was (a machine-readable code) and whether and when to try
// again: exponential backoff with full jitter, Retry-After honoured within a cap. Pure policy,
// no I/O: the downloader supplies the facts, tests supply the random source and the clock.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace pixelmill {

struct RetryOptions {
  uint32_t retries = 3;                  // retries after the first attempt
  uint64_t base_delay_ms = 100;          // first backoff ceiling; doubles per attempt
  uint64_t max_delay_ms = 10'000;        // ceiling of the ceiling
  uint64_t max_retry_after_ms = 60'000;  // a server's Retry-After is capped to this
};

// Full jitter: uniform in [0, min(max, base * 2^(failed_attempts - 1))].
// REQUIRES: failed_attempts >= 1.
uint64_t BackoffMs(const RetryOptions& options, uint32_t failed_attempts, std::mt19937_64& rng);

// A Retry-After value (delta-seconds or an HTTP-date) as a delay from `now_unix` in ms, capped
// at options.max_retry_after_ms; nullopt if it is neither.
std::optional<uint64_t> ParseRetryAfter(std::string_view value, int64_t now_unix,
                                        const RetryOptions& options);

// What happened to one attempt, as the downloader saw it.
struct AttemptFacts {
  CURLcode curl = CURLE_OK;
  long http_status = 0;
  std::string blocked;     // non-empty: our address check refused a connection (says why)
  bool too_large = false;  // the body passed --max-image-bytes
  std::string curl_error;  // curl's CURLOPT_ERRORBUFFER text
  double seconds = 0;      // how long the request was on the wire
};

// Ok when the attempt succeeded: transfer complete with HTTP 200 (or 203). Other 2xx (206
// partial content, 204 no content) are not a complete image. A failure has a download code
// (kBadUrl, kBlockedAddress, kDns, kConnect, kTimeout, kHttpStatus, kTooLarge, kTruncated,
// kTooManyRedirects, kTls, kBadResponse, kNetwork) and is retryable when it may heal.
Status ClassifyAttempt(const AttemptFacts& facts);

}  // namespace pixelmill
