// Downloader: thousands of HTTP(S) downloads in flight on the coordinator's libuv loop, with no
// thread per download. libcurl's multi_socket API is driven by the loop: one uv_poll_t per curl
// socket (CURLMOPT_SOCKETFUNCTION + curl_multi_assign), one uv_timer_t for curl's timeout
// (CURLMOPT_TIMERFUNCTION), finished transfers drained with curl_multi_info_read after every
// action. libcurl is never called from inside its own callbacks (except curl_multi_assign in
// the socket callback, as its documentation prescribes).
//
// Each download is checked (http/https only, at most 5 redirects, every connection's resolved
// address refused if loopback/private/link-local unless allowed, body capped as it streams) and
// retried on transient failures with backoff timers on the loop. The result reaches `on_done`
// on the loop thread, never from inside Start(); on_done may call Start() and Close().
//
// Owned and used by the loop thread only. Close() before destruction (two-phase handle close).
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "coordinator/retry_policy.h"

namespace pixelmill {

struct DownloadOptions {
  size_t concurrency = 256;                // transfers in flight at most
  size_t per_host = 64;                    // connections to one host at most
  uint64_t timeout_ms = 30'000;            // total time of one attempt
  uint64_t connect_timeout_ms = 10'000;    // capped by timeout_ms
  uint64_t low_speed_window_s = 10;        // abort an attempt slower than 1 B/s over this
  uint64_t max_image_bytes = 20ull << 20;  // body cap, enforced as it streams
  bool allow_private_networks = false;     // allow loopback/private/link-local addresses
  // Replaces the address check when set: why an address is refused, or nullopt. A seam for
  // tests that need one loopback server allowed and every other address really checked.
  std::function<std::optional<std::string>(const sockaddr&)> address_check;
  RetryOptions retry;
  uint64_t seed = std::random_device{}();  // jitter source (tests pin it)
};

struct Download {
  size_t tag = 0;                  // the caller's tag from Start()
  std::optional<Failure> failure;  // nullopt: ok, body holds the image
  std::string body;
  std::string content_type;  // as the server sent it
  std::string url;
  uint32_t attempts = 0;
  double seconds = 0;  // from Start() to the end, retries included
};

struct DownloadStats {
  uint64_t requests = 0;  // attempts started
  uint64_t retries = 0;
  uint64_t bytes = 0;  // body bytes received
  uint64_t ok = 0, failed = 0;
  std::vector<float> latency_ms;  // per successful download, retries included
};

class Downloader {
 public:
  using DoneFn = std::function<void(Download&&)>;

  Downloader(uv_loop_t& loop, const DownloadOptions& options, DoneFn on_done);
  Downloader(const Downloader&) = delete;
  Downloader& operator=(const Downloader&) = delete;
  ~Downloader();  // REQUIRES: Close() has completed (or Init() was never called)

  // Creates the curl multi handle and the loop handles.
  Status Init();
  // Starts fetching `url`. Returns the failure at once (and uses no slot) when the URL itself is
  // refused. REQUIRES: in_flight() < options.concurrency.
  std::optional<Failure> Start(size_t tag, std::string_view url);
  size_t in_flight() const { return slots_.size() - free_.size(); }
  const DownloadStats& stats() const { return stats_; }

  // Abandons transfers in flight (no on_done for them), then closes every handle; `on_closed`
  // runs once the loop has released them all.
  void Close(std::function<void()> on_closed);

 private:
  struct Transfer;
  struct Socket;

  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int OnCurlTimer(CURLM* multi, long timeout_ms, void* userp);
  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnTimeout(uv_timer_t* timer);
  static void OnRetryTimer(uv_timer_t* timer);
  static size_t OnBody(char* data, size_t size, size_t count, void* userp);
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address);

  void Action(curl_socket_t fd, int events);
  void DrainFinished();
  void Finished(Transfer& t, CURLcode result);
  std::optional<Failure> Attempt(Transfer& t);
  void Deliver(Transfer& t, std::optional<Failure> failure);
  void CloseSocket(curl_socket_t fd);
  void HandleClosed();

  uv_loop_t& loop_;
  const DownloadOptions options_;
  DoneFn on_done_;
  CURLM* multi_ = nullptr;
  uv_timer_t timer_{};
  std::vector<std::unique_ptr<Transfer>> slots_;
  std::vector<Transfer*> free_;
  std::unordered_map<curl_socket_t, std::unique_ptr<Socket>> sockets_;
  std::unordered_map<Socket*, std::unique_ptr<Socket>> closing_sockets_;
  std::mt19937_64 rng_;
  DownloadStats stats_;
  size_t handles_open_ = 0;
  std::function<void()> on_closed_;
  bool closing_ = false;
};

}  // namespace pixelmill
