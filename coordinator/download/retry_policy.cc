#include "coordinator/download/retry_policy.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace pixelmill {
namespace {

std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", s);
  return text;
}

}  // namespace

uint64_t BackoffMs(const RetryOptions& options, uint32_t failed_attempts, std::mt19937_64& rng) {
  const uint32_t doublings = std::min<uint32_t>(failed_attempts - 1, 30);
  const uint64_t ceiling =
      std::min<uint64_t>(options.max_delay_ms, options.base_delay_ms << doublings);
  return std::uniform_int_distribution<uint64_t>(0, ceiling)(rng);
}

std::optional<uint64_t> ParseRetryAfter(std::string_view value, int64_t now_unix,
                                        const RetryOptions& options) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  uint64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    return std::min<uint64_t>(seconds > UINT64_MAX / 1000 ? UINT64_MAX : seconds * 1000,
                              options.max_retry_after_ms);
  }
  if (ec == std::errc::result_out_of_range) return options.max_retry_after_ms;
  const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const int64_t delta = static_cast<int64_t>(when) - now_unix;
  return std::min<uint64_t>(delta <= 0 ? 0 : static_cast<uint64_t>(delta) * 1000,
                            options.max_retry_after_ms);
}

namespace {

// Whether curl's error text says `what`: some of its codes cover faults of different parties.
bool Mentions(const AttemptFacts& f, std::string_view what) {
  return f.curl_error.find(what) != std::string::npos;
}

}  // namespace

Status ClassifyAttempt(const AttemptFacts& f) {
  const auto fail = [&](Code code, std::string message, bool retryable) {
    if (!f.curl_error.empty() && f.curl != CURLE_OK && code != Code::kBlockedAddress &&
        !f.too_large) {
      message += " (" + f.curl_error + ")";
    }
    return retryable ? Status::Retryable(code, std::move(message))
                     : Status::Error(code, std::move(message));
  };
  // Curl may try several addresses of one host: a refused one matters only if the attempt failed.
  if (!f.blocked.empty() && f.curl != CURLE_OK) {
    return fail(Code::kBlockedAddress, "refused to connect to " + f.blocked, false);
  }
  if (f.too_large) return fail(Code::kTooLarge, "image is larger than --max-image-bytes", false);
  switch (f.curl) {
    case CURLE_OK:
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      // The URL's scheme was checked before: here curl refuses what the server sent.
      if (Mentions(f, "HTTP/0.9")) {
        return Status::Error(Code::kBadResponse,
                             "the server answered with HTTP/0.9 (no status line)");
      }
      return fail(Code::kBadUrl, "URL refused", false);
    case CURLE_URL_MALFORMAT:
      return fail(Code::kBadUrl, "URL refused", false);
    case CURLE_OUT_OF_MEMORY:
      // What libcurl (before 8.6) says of one header line past its 100 KB limit; nothing
      // else in a transfer of ours allocates enough to fail.
      return Status::Error(Code::kBadResponse,
                           "the server sent a response header over libcurl's 100 KB limit (curl: "
                           "Out of memory)");
    case CURLE_WEIRD_SERVER_REPLY:
      return fail(Code::kBadResponse, "the server's answer is not valid HTTP", false);
#if LIBCURL_VERSION_NUM >= 0x080600
    case CURLE_TOO_LARGE:
      return fail(Code::kBadResponse, "the server sent response headers over libcurl's limits",
                  false);
#endif
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return fail(Code::kDns, "host name did not resolve", false);
    case CURLE_COULDNT_CONNECT:
      return fail(Code::kConnect, "could not connect", true);
    case CURLE_OPERATION_TIMEDOUT:
      return fail(Code::kTimeout, "timed out after " + Seconds(f.seconds) + " on the wire", true);
    case CURLE_PARTIAL_FILE:
      return fail(Code::kTruncated, "body ended before its Content-Length", true);
    case CURLE_RECV_ERROR:
      if (Mentions(f, "Too large response headers")) {
        return fail(Code::kBadResponse,
                    "the server sent response headers over libcurl's 300 KB limit", false);
      }
      return fail(Code::kConnect, "connection reset or closed without a response", true);
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return fail(Code::kConnect, "connection reset or closed without a response", true);
    case CURLE_FILESIZE_EXCEEDED:
      return fail(Code::kTooLarge, "image is larger than --max-image-bytes", false);
    case CURLE_TOO_MANY_REDIRECTS:
      return fail(Code::kTooManyRedirects, "more than 5 redirects", false);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return fail(Code::kTls, "TLS handshake or certificate check failed", false);
    default:
      return fail(Code::kNetwork, curl_easy_strerror(f.curl), false);
  }
  if (f.http_status == 200 || f.http_status == 203) return Status::Ok();
  if (f.http_status >= 200 && f.http_status < 300) {
    return fail(
        Code::kHttpStatus,
        "HTTP " + std::to_string(f.http_status) + " is not a complete image (only 200 is accepted)",
        false);
  }
  if (f.http_status >= 300 && f.http_status < 400) {
    return fail(Code::kHttpStatus, "HTTP " + std::to_string(f.http_status) + " without a Location",
                false);
  }
  const bool retryable = f.http_status == 429 || f.http_status >= 500;
  return fail(Code::kHttpStatus, "HTTP " + std::to_string(f.http_status), retryable);
}

}  // namespace pixelmill
