#include "coordinator/download/http_transfer.h"

#include <algorithm>
#include <ctime>
#include <mutex>

#include "common/base/version.h"
#include "coordinator/download/url_policy.h"

namespace pixelmill {

void CurlGlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void ConfigureEasy(CURL* e, const DownloadOptions& options, char* error_buffer) {
  const long timeout = static_cast<long>(options.timeout_ms);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  // Redirects are followed by the caller: each hop is checked (and, in the downloader, waits
  // for its own host).
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   std::min(timeout, static_cast<long>(options.connect_timeout_ms)));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_window_s));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_image_bytes));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  static const std::string kDefaultAgent = std::string("pixelmill/") + kVersion;
  curl_easy_setopt(e, CURLOPT_USERAGENT,
                   options.user_agent.empty() ? kDefaultAgent.c_str() : options.user_agent.c_str());
  // "" disables proxies, including http_proxy/https_proxy/all_proxy from the environment.
  curl_easy_setopt(e, CURLOPT_PROXY, options.proxy.c_str());
  if (!options.proxy.empty()) curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CurlHttpVersion(options.http_version));
}

long CurlHttpVersion(std::string_view http_version) {
  if (http_version == "auto") return CURL_HTTP_VERSION_2TLS;
  if (http_version == "1.1") return CURL_HTTP_VERSION_1_1;
  if (http_version == "2") return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
  return -1;
}

std::optional<std::string> RefusedAddress(const DownloadOptions& options, const sockaddr& address) {
  if (options.address_check) {
    if (auto why = options.address_check(address)) {
      return AddressToString(address) + " (" + *why + ")";
    }
  } else if (!options.allow_private_networks) {
    if (auto range = BlockedRange(address); range && !InRanges(options.allowed_private, address)) {
      return AddressToString(address) + " (" + std::string(*range) +
             (options.allowed_private.empty() ? " address; pass --allow-private-networks to allow)"
                                              : " address, not in --allow-private-networks)");
    }
  }
  return std::nullopt;
}

curl_socket_t OpenCheckedSocket(const DownloadOptions& options, curlsocktype purpose,
                                const curl_sockaddr* address, std::string& blocked) {
  if (purpose != CURLSOCKTYPE_IPCXN || address == nullptr) return CURL_SOCKET_BAD;
  if (options.proxy.empty()) {
    if (auto why = RefusedAddress(options, address->addr)) {
      blocked = *why;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

Status CheckTarget(const DownloadOptions& options, const addrinfo* addresses) {
  for (const addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    if (auto why = RefusedAddress(options, *a->ai_addr)) {
      return Status::Error(Code::kBlockedAddress, "refused to connect to " + *why);
    }
  }
  return Status::Ok();
}

AttemptEnd ReadAttempt(CURL* e, CURLcode result, const DownloadOptions& options,
                       const char* curl_error, const std::string& blocked, bool too_large,
                       uint64_t body_bytes) {
  AttemptEnd end;
  AttemptFacts& facts = end.facts;
  facts.curl = result;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &facts.http_status);
  facts.blocked = blocked;
  facts.too_large = too_large;
  facts.curl_error = curl_error;
  curl_off_t total_us = 0, connect_us = 0;
  curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us);
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
  facts.seconds = static_cast<double>(total_us) / 1e6;
  if (facts.http_status == 429 || facts.http_status == 503) {
    curl_header* header = nullptr;
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &header) == CURLHE_OK) {
      end.retry_after_ms = ParseRetryAfter(header->value, std::time(nullptr), options.retry);
    }
  }
  if (result == CURLE_OK && facts.http_status >= 300 && facts.http_status < 400) {
    char* target = nullptr;
    curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &target);
    if (target != nullptr) end.location = target;
  }
  const char* type = nullptr;
  curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &type);
  end.content_type = type != nullptr ? type : "";
  // The host failed to connect only if no connection was ever made (refused, unreachable or a
  // connect timeout); our own address refusal says nothing about the host.
  const bool no_connection =
      blocked.empty() && connect_us == 0 &&
      (result == CURLE_COULDNT_CONNECT || (result == CURLE_OPERATION_TIMEDOUT && body_bytes == 0));
  // Through a proxy the connection is to the proxy: the target failed to connect when the
  // tunnel was refused, the proxy answered 502/504, or nothing came back before the timeout.
  long connect_code = 0, header_bytes = 0;
  curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &header_bytes);
  const bool target_unreachable =
      !options.proxy.empty() &&
      (connect_code >= 500 || facts.http_status == 502 || facts.http_status == 504 ||
       (result == CURLE_OPERATION_TIMEDOUT && header_bytes == 0));
  end.outcome = no_connection || target_unreachable ? HostGate::Outcome::kConnectFailed
                                                    : HostGate::Outcome::kOk;
  return end;
}

Status FollowRedirect(const std::string& location, uint32_t& redirects, std::string& url,
                      std::string& host) {
  if (++redirects > kMaxRedirects) {
    return Status::Error(Code::kTooManyRedirects, "more than 5 redirects");
  }
  std::string next_host;
  if (Status s = CheckUrl(location, &next_host); !s.ok()) {
    return s.WithPrefix("redirect to " + RedactUrl(location) + " refused: ");
  }
  url = location;
  host = std::move(next_host);
  return Status::Ok();
}

Status FinishFailureMessage(const Status& failure, const std::string& redacted_url,
                            uint32_t attempts) {
  return failure.WithSuffix(" from " + redacted_url + " after " + std::to_string(attempts) +
                            (attempts == 1 ? " attempt" : " attempts"));
}

}  // namespace pixelmill
