// Downloader: thousands of HTTP(S) downloads in flight on the coordinator's libuv loop, with no
// thread per download. libcurl's multi_socket API is driven by the loop: one uv_poll_t per curl
// socket (CURLMOPT_SOCKETFUNCTION + curl_multi_assign), one uv_timer_t for curl's timeout
// (CURLMOPT_TIMERFUNCTION), finished transfers drained with curl_multi_info_read after every
// action. libcurl is never called from inside its own callbacks (except curl_multi_assign in
// the socket callback, as its documentation prescribes).
//
// A download is accepted (Start) long before it is on the wire: it waits in a HostGate until its
// host has a free connection (--per-host), so a wait for a connection never counts against the
// attempt's timeout, and a download waiting for a retry or a paused host holds no slot. Curl
// holds only transfers that can be sent now (at most `concurrency`); easy handles are made as
// they are needed and reused, never one per possible slot.
//
// Each download is checked (http/https only, no control bytes, at most 5 redirects followed by
// pixelmill itself so each hop is re-checked and queued for its own host, every connection's
// resolved address refused if loopback/private/link-local unless allowed, body capped as it
// streams) and retried on transient failures with backoff on the loop. The easy handles'
// settings, the address check and the reading of a finished attempt are http_transfer.h's.
// Every download of a run goes through here, one user at a time too (sequential.h). Proxy
// environment variables are ignored; with an explicit proxy the target host is resolved and checked
// by pixelmill before each request. URLs in messages are redacted (RedactUrl). The result reaches
// `on_done` on the loop thread, never from inside Start(); on_done may call Start() and Close().
//
// Memory: with a ByteBudget, every transfer holds a lease on it (DownloadBudget): an opening
// reservation to go on the wire, then the whole Content-Length from the first write, else what
// recent bodies of unknown length needed, then fixed blocks. A body the budget cannot grant is
// paused (CURL_WRITEFUNC_PAUSE; curl delivers the same data again once unpaused, so nothing is
// lost) and no new transfer starts while one is paused or there is no room for its opening.
// OnBudgetFreed() resumes the paused bodies that fit (curl_easy_pause, always outside curl's
// callbacks) and starts waiting downloads; if only paused bodies hold the budget, the youngest
// transfer is taken off the wire and queued again (no attempt counted) until one can go on, so
// the budget is passed by one image at most (one alone in it). A paused transfer's timeout still
// runs. Bodies grow in GrowableBytes (large ones mapped: freed bytes go back to the system). A
// delivered body carries its lease; an attempt that fails gives its bytes back at once.
//
// Owned and used by the loop thread only. Close() before destruction (two-phase handle close).
#pragma once

#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/byte_budget.h"
#include "common/base/growable_bytes.h"
#include "common/base/histogram.h"
#include "common/base/status.h"
#include "common/image/image_buffer.h"
#include "coordinator/download/download_budget.h"
#include "coordinator/download/host_gate.h"
#include "coordinator/download/http_transfer.h"
#include "coordinator/download/request_headers.h"
#include "coordinator/download/retry_policy.h"
#include "coordinator/events/clock.h"

namespace pixelmill {

struct Download {
  size_t tag = 0;            // the caller's tag from Start()
  Status failure;            // ok: body holds the image
  ImageBuffer body;          // when ok
  std::string content_type;  // as the server sent it
  std::string url;           // the last URL fetched (after redirects), redacted for messages
  uint32_t attempts = 0;
  Duration elapsed{};  // from Start() to the end, waits and retries included
};

struct DownloadStats {
  uint64_t requests = 0;  // attempts started
  uint64_t retries = 0;
  uint64_t bytes = 0;  // body bytes received
  uint64_t ok = 0, failed = 0;
  Histogram latency_us;  // per successful download, from Start() (waits and retries included)
  // The same split in two: from Start() until its first attempt went on the wire (waiting for a
  // connection slot: --concurrency, --per-host, the byte budget, a paused host), and from then
  // to the end (the transfers, retries and their backoffs).
  Histogram slot_wait_us, transfer_us;
  // The byte budget: bodies paused for it (each pause counted), transfers stopped and queued
  // again because only paused bodies held it (no attempt counted), and the time during which at
  // least one download waited for it (paused, or ready to start but held back). Zero without a
  // budget.
  uint64_t budget_pauses = 0, budget_stopped = 0;
  double budget_wait_seconds = 0;
  ThrottleTimes throttle;  // waits for --rate's tokens and for servers' Retry-After
  // Connections opened (TLS handshakes included), and the responses that came over HTTP/1.x
  // and over HTTP/2: with HTTP/2 one connection a host carries every request to it.
  uint64_t connections = 0;
  uint64_t http1_responses = 0, http2_responses = 0;
};

class Downloader {
 public:
  using DoneFn = std::function<void(Download&&)>;

  // `budget` (nullptr = unlimited) counts every body; it must outlive the downloader. `clock`
  // times retries' backoffs, host pauses, budget waits and each download; it must outlive the
  // downloader.
  Downloader(uv_loop_t& loop, const DownloadOptions& options, DoneFn on_done,
             ByteBudget* budget = nullptr, const Clock& clock = RealClock());
  Downloader(const Downloader&) = delete;
  Downloader& operator=(const Downloader&) = delete;
  ~Downloader();  // REQUIRES: Close() has completed (or Init() was never called)

  // Creates the curl multi handle and the loop handles.
  Status Init();
  // Accepts a download of `url`. Returns the failure at once (and holds nothing) when the URL
  // itself is refused or its host is known to be down. REQUIRES: accepting().
  Status Start(size_t tag, std::string_view url);
  // Whether Start() may be called: fewer than concurrency + backlog downloads accepted.
  bool accepting() const { return pending_ < concurrency_ + backlog_; }
  // Puts no further transfer on the wire (a stop is draining): those on it finish, the others
  // wait until Close() abandons them. REQUIRES: not closing.
  void StopStarting() { stopped_starting_ = true; }
  // Downloads accepted and not yet delivered.
  size_t pending() const { return pending_; }
  // Transfers on the wire now.
  size_t in_flight() const { return on_wire_; }
  DownloadStats stats() const;
  // Transfers paused for budget now.
  size_t paused() const { return budget_.paused(); }

  // Bytes of the budget were given back (by anyone): resumes the paused transfers that now fit
  // (or forces one, see above) and starts waiting downloads if there is room. Cheap; call it
  // once per loop iteration. Never calls on_done.
  void OnBudgetFreed();

  // Abandons every download (no on_done for them), then closes every handle; `on_closed` runs
  // once the loop has released them all.
  void Close(std::function<void()> on_closed);

 private:
  struct Fetch;
  struct Easy;
  struct Socket;

  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int OnCurlTimer(CURLM* multi, long timeout_ms, void* userp);
  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnTimeout(uv_timer_t* timer);
  static void OnWake(uv_timer_t* timer);
  static void OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  static size_t OnBody(char* data, size_t size, size_t count, void* userp);
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address);

  // The callbacks' bodies, run through Guarded() by the static entry points above.
  void Resolved(Fetch& f, int status, addrinfo* result);
  int WatchSocket(curl_socket_t fd, int what, Socket* socket);
  size_t TakeBody(Fetch& f, const char* data, size_t n);

  // Wakes the downloader at `at` (now if it is past), unless an earlier wake-up is set.
  void ScheduleWake(TimePoint at);
  void WakeSoon() { ScheduleWake(clock_.Now()); }
  void Wake();
  void Resume();
  void Requeue(Fetch& f);
  void NoteBudgetWait();
  void Queue(Fetch& f, bool first);
  void PutOnWire(Fetch& f);
  void AddToCurl(Fetch& f);
  void Action(curl_socket_t fd, int events);
  void DrainFinished();
  void Finished(Fetch& f, CURLcode result);
  void CountConnection(CURL* e, long status);
  void EndAttempt(Fetch& f, Status failure, HostGate::Outcome outcome,
                  std::optional<uint64_t> retry_after_ms, bool throttled = false);
  void Deliver(Fetch& f, Status failure);
  void DropBody(Fetch& f);  // frees the body and gives its budget back
  Easy* TakeEasy();
  void CloseSocket(curl_socket_t fd);
  void HandleClosed();

  uv_loop_t& loop_;
  const Clock& clock_;
  const DownloadOptions options_;
  const size_t concurrency_, backlog_;
  DoneFn on_done_;
  CURLM* multi_ = nullptr;
  uv_timer_t timer_{};  // curl's timeout
  uv_timer_t wake_{};   // due retries, paused hosts, newly accepted downloads
  std::optional<TimePoint> wake_at_;
  HostGate gate_;
  const HeaderList headers_;  // options_.headers, for the input URLs' own hosts
  DownloadBudget budget_;
  std::vector<std::unique_ptr<Fetch>> fetches_;  // grows to the most ever accepted at once
  std::vector<uint32_t> free_fetches_;
  std::vector<std::unique_ptr<Easy>> easies_;  // grows to the most ever on the wire at once
  std::vector<Easy*> idle_easies_;
  // Downloads waiting out a retry backoff, soonest first: (due, fetch id).
  std::priority_queue<std::pair<TimePoint, uint32_t>, std::vector<std::pair<TimePoint, uint32_t>>,
                      std::greater<>>
      backoff_;
  std::unordered_map<curl_socket_t, std::unique_ptr<Socket>> sockets_;
  std::unordered_map<Socket*, std::unique_ptr<Socket>> closing_sockets_;
  std::mt19937_64 rng_;
  DownloadStats stats_;
  size_t pending_ = 0, on_wire_ = 0;
  size_t handles_open_ = 0;
  std::function<void()> on_closed_;
  bool closing_ = false;
  bool stopped_starting_ = false;
  bool in_curl_ = false;  // inside curl_multi_socket_action or curl_easy_pause
};

}  // namespace pixelmill
