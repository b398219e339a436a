// What one download attempt is: how the Downloader configures its easy handles, checks the
// addresses curl connects to, reads a finished attempt and follows redirects, applying one URL
// policy (url_policy.h) and one retry policy (retry_policy.h). DownloadOptions, the downloads'
// knobs, lives here too.
//
// Plain functions without state of their own; any thread (each easy handle belongs to one).
#pragma once

#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/download/host_gate.h"
#include "coordinator/download/retry_policy.h"
#include "coordinator/download/url_policy.h"

namespace pixelmill {

struct DownloadOptions {
  size_t concurrency = 256;  // transfers on the wire at most
  // Downloads accepted beyond those on the wire (waiting for their host, a retry or a paused
  // host); 0 = max(1024, 8 x concurrency). Memory per waiting download is its URL and ~200 B.
  size_t backlog = 0;
  size_t per_host = 64;                    // transfers on the wire to one host at most
  uint64_t timeout_ms = 30'000;            // total time of one attempt
  uint64_t connect_timeout_ms = 10'000;    // capped by timeout_ms
  uint64_t low_speed_window_s = 10;        // abort an attempt slower than 1 B/s over this
  uint64_t max_image_bytes = 20ull << 20;  // body cap, enforced as it streams
  bool allow_private_networks = false;     // allow loopback/private/link-local addresses
  // Without allow_private_networks: the private ranges still allowed (--allow-private-networks
  // CIDR,...); the rest stay refused.
  std::vector<AddressRange> allowed_private;
  // Send every request through this proxy ("" = none; proxy environment variables are always
  // ignored). The target host is then resolved and checked by pixelmill before each request.
  std::string proxy;
  // Trust the CA certificates in this PEM file instead of the system's ("" = the system's).
  std::string ca_file;
  // The HTTP version asked for: "auto" (HTTP/2 over TLS when the server offers it in ALPN,
  // HTTP/1.1 otherwise; requests to one host multiplexed over one connection with HTTP/2), "1.1"
  // (never HTTP/2: one request a connection at a time, kept alive) or "2" (HTTP/2 without
  // asking, over plain http:// too; a server that does not speak it fails).
  std::string http_version = "auto";
  // Checked "Name: value" headers for every request to the input URLs' own hosts (not to a
  // redirect's other host), and the User-Agent ("" = "pixelmill/<version>").
  std::vector<std::string> headers;
  std::string user_agent;
  HostGateOptions health;  // when a failing host is paused, probed and declared down; the rate
  // Replaces the address check when set: why an address is refused, or nullopt. A seam for
  // tests that need one loopback server allowed and every other address really checked.
  std::function<std::optional<std::string>(const sockaddr&)> address_check;
  RetryOptions retry;
  uint64_t seed = std::random_device{}();  // jitter source (tests pin it)
};

// At most this many redirects are followed (each by pixelmill, re-checked).
inline constexpr uint32_t kMaxRedirects = 5;

// curl_global_init, once per process (later calls wait for the first).
void CurlGlobalInitOnce();

// Sets what every download's easy handle has: `error_buffer` (CURL_ERROR_SIZE bytes), http and
// https only, no redirect following (the caller follows each hop itself, see FollowRedirect),
// the attempt's total, connect and low-speed timeouts, the byte cap from Content-Length, no
// signals, the user agent, and the proxy (or none: proxy environment variables are ignored).
// The caller sets its write and open-socket callbacks (the latter calling OpenCheckedSocket).
void ConfigureEasy(CURL* easy, const DownloadOptions& options, char* error_buffer);

// The CURL_HTTP_VERSION_* of a DownloadOptions::http_version; -1 for an unknown one.
long CurlHttpVersion(std::string_view http_version);

// Why connecting to `address` is refused under `options` ("10.0.0.1 (private address; pass
// --allow-private-networks to allow)"), or nullopt when it is allowed.
std::optional<std::string> RefusedAddress(const DownloadOptions& options, const sockaddr& address);

// The body of CURLOPT_OPENSOCKETFUNCTION for a download: a new socket for `address`, or
// CURL_SOCKET_BAD with `blocked` set to why when the address check refuses it. Through a proxy
// the connection goes to the proxy, which is not checked (the target was, see CheckTarget).
curl_socket_t OpenCheckedSocket(const DownloadOptions& options, curlsocktype purpose,
                                const curl_sockaddr* address, std::string& blocked);

// Through a proxy, the target's resolved addresses are checked before the request: the
// kBlockedAddress failure if any is refused, else ok.
Status CheckTarget(const DownloadOptions& options, const addrinfo* addresses);

// Whether a body of `bytes` is within --max-image-bytes (else the attempt fails kTooLarge).
inline bool WithinCap(const DownloadOptions& options, uint64_t bytes) {
  return bytes <= options.max_image_bytes;
}

// What a finished attempt was, read from its easy handle.
struct AttemptEnd {
  AttemptFacts facts;
  std::optional<uint64_t> retry_after_ms;  // a 429/503's Retry-After
  std::string location;                    // a 3xx's target ("" if none)
  std::string content_type;
  HostGate::Outcome outcome = HostGate::Outcome::kOk;  // whether the host failed to connect
};

// Reads attempt `result` of `easy`. `curl_error` is its error buffer; `blocked`
// (OpenCheckedSocket's), `too_large` (the body passed the cap) and `body_bytes` are what the
// caller's callbacks saw.
AttemptEnd ReadAttempt(CURL* easy, CURLcode result, const DownloadOptions& options,
                       const char* curl_error, const std::string& blocked, bool too_large,
                       uint64_t body_bytes);

// A redirect hop to `location`: counts it in `redirects`, checks the target, and replaces `url`
// and `host` (the HostGate key) with it. Returns the failure that ends the download instead:
// too_many_redirects past kMaxRedirects, or the target's CheckUrl failure.
Status FollowRedirect(const std::string& location, uint32_t& redirects, std::string& url,
                      std::string& host);

// Whether a failed attempt (the `attempts`-th) is tried again.
inline bool ShouldRetry(const DownloadOptions& options, const Status& failure, uint32_t attempts) {
  return failure.retryable() && attempts <= options.retry.retries;
}

// The failure with its message completed for the manifest: " from <redacted url> after N
// attempt(s)". REQUIRES: !failure.ok()
Status FinishFailureMessage(const Status& failure, const std::string& redacted_url,
                            uint32_t attempts);

}  // namespace pixelmill
