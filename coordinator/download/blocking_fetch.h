// BlockingFetch: --sequential's download, one at a time on the calling thread with one curl easy
// handle (curl_easy_perform; its connection is kept alive from one user to the next). The
// policy is the Downloader's, through the same code: the handle is configured by ConfigureEasy,
// every connection's address is checked by OpenCheckedSocket (and, through a proxy, the target
// is resolved and checked first by CheckTarget), each attempt is read by ReadAttempt and
// classified by ClassifyAttempt, redirects are followed by FollowRedirect, retries wait
// BackoffMs or a Retry-After, and a HostGate keeps each host's health (a host that keeps
// refusing connections is paused, probed and declared down, and its users fail at once). Only
// the waiting differs: here the thread sleeps.
//
// A stop requested by `should_stop` (polled during transfers and waits) abandons the download:
// Fetch() then returns nullopt and the user is left for a resume.
//
// Owned and used by one thread.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "coordinator/download/downloader.h"
#include "coordinator/download/host_gate.h"
#include "coordinator/download/http_transfer.h"

namespace pixelmill {

class BlockingFetch {
 public:
  // `should_stop` (may be empty) is polled about every 100 ms while a download runs or waits.
  explicit BlockingFetch(const DownloadOptions& options,
                         std::function<bool()> should_stop = nullptr);
  BlockingFetch(const BlockingFetch&) = delete;
  BlockingFetch& operator=(const BlockingFetch&) = delete;
  ~BlockingFetch();

  // Creates the easy handle.
  Status Init();
  // Downloads `url` (retries and redirects included) and returns it as the Downloader delivers
  // it: a body, or a failure with its code and message. nullopt when should_stop said so.
  // REQUIRES: Init() succeeded.
  std::optional<Download> Fetch(std::string_view url);

  // Latencies, requests, retries, bytes, ok and failed so far (no budget figures).
  const DownloadStats& stats() const { return stats_; }

 private:
  struct Attempt;

  static size_t OnBody(char* data, size_t size, size_t count, void* userp);
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address);
  static int OnProgress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

  // Waits until the gate lets the download (pushed) go on the wire; the failure when its host
  // went down meanwhile. Sets `stopped` when a stop was requested.
  Status WaitForHost(const std::string& url, bool& stopped);
  // Sleeps until `until` (RealClock()), or until a stop is requested (returns false).
  bool SleepUntil(TimePoint until);
  Download Deliver(std::string_view url, uint32_t attempts, TimePoint started, Status failure,
                   std::string body, std::string content_type);

  const DownloadOptions options_;
  std::function<bool()> should_stop_;
  CURL* easy_ = nullptr;
  char error_[CURL_ERROR_SIZE] = {};
  HostGate gate_;
  std::mt19937_64 rng_;
  DownloadStats stats_;
};

}  // namespace pixelmill
