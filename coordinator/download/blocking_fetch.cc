#include "coordinator/download/blocking_fetch.h"

#include <netdb.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "common/image/image_buffer.h"
#include "coordinator/download/url_policy.h"

namespace pixelmill {
namespace {

constexpr uint32_t kId = 0;  // the gate's id of the one download at a time
// should_stop is asked at least this often while waiting.
constexpr Duration kPoll = std::chrono::milliseconds(100);

TimePoint Now() { return RealClock().Now(); }

HostGateOptions GateOptions(const DownloadOptions& o) {
  HostGateOptions h = o.health;
  h.per_host = 1;  // one download at a time anyway
  return h;
}

}  // namespace

// What the callbacks of one attempt see.
struct BlockingFetch::Attempt {
  BlockingFetch* owner = nullptr;
  std::string body;
  std::string blocked;  // set by OnOpenSocket when it refuses an address
  bool too_large = false;
  bool stopped = false;  // OnProgress aborted the transfer for a stop
};

BlockingFetch::BlockingFetch(const DownloadOptions& options, std::function<bool()> should_stop)
    : options_(options),
      should_stop_(std::move(should_stop)),
      gate_(GateOptions(options)),
      rng_(options.seed) {}

BlockingFetch::~BlockingFetch() {
  if (easy_ != nullptr) curl_easy_cleanup(easy_);
}

Status BlockingFetch::Init() {
  CurlGlobalInitOnce();
  easy_ = curl_easy_init();
  if (easy_ == nullptr) return Status::Error(Code::kInternal, "curl_easy_init failed");
  ConfigureEasy(easy_, options_, error_);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &BlockingFetch::OnBody);
  curl_easy_setopt(easy_, CURLOPT_OPENSOCKETFUNCTION, &BlockingFetch::OnOpenSocket);
  curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, &BlockingFetch::OnProgress);
  curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, should_stop_ ? 0L : 1L);
  return Status::Ok();
}

std::optional<Download> BlockingFetch::Fetch(std::string_view url_text) {
  const TimePoint started = Now();
  std::string url(url_text), host;
  // Refused before any attempt (a bad URL, a host known to be down), as Downloader::Start
  // refuses it: the message names the URL, and no attempt is counted.
  const auto refused = [&](Status failure) {
    Download d;
    d.failure = std::move(failure);
    d.url = RedactUrl(url);
    ++stats_.failed;
    return d;
  };
  if (Status s = CheckUrl(url, &host); !s.ok()) {
    return refused(s.WithSuffix(": " + RedactUrl(url)));
  }
  uint32_t attempts = 0, redirects = 0;
  bool first = false;  // the next wait for the host queues at its head (a hop, a paused retry)
  for (bool initial = true;; initial = false) {
    if (auto down = gate_.Push(host, kId, Now(), first)) {
      if (initial) return refused(Status::Error(Code::kConnect, *down + " at " + RedactUrl(url)));
      return Deliver(url, attempts, started, Status::Error(Code::kConnect, *down), {}, {});
    }
    bool stopped = false;
    if (Status down = WaitForHost(url, stopped); !down.ok()) {
      return Deliver(url, attempts, started, std::move(down), {}, {});
    }
    if (stopped) return std::nullopt;
    ++attempts;
    ++stats_.requests;
    Attempt attempt;
    attempt.owner = this;
    Status failure;
    HostGate::Outcome outcome = HostGate::Outcome::kOk;
    std::optional<uint64_t> retry_after_ms;
    std::string location, content_type;
    // Through a proxy, curl connects only to the proxy: the target's addresses are checked
    // here, before the request, as OpenCheckedSocket checks a direct connection.
    if (!options_.proxy.empty()) {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      const std::string name = UrlHost(url);
      if (int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &found); rc != 0) {
        failure = Status::Error(
            Code::kDns, "host name did not resolve (" + std::string(gai_strerror(rc)) + ")");
        outcome = HostGate::Outcome::kConnectFailed;
      } else {
        std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
        failure = CheckTarget(options_, found);
      }
    }
    if (failure.ok()) {
      error_[0] = '\0';
      curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
      curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &attempt);
      curl_easy_setopt(easy_, CURLOPT_OPENSOCKETDATA, &attempt);
      curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, &attempt);
      const CURLcode result = curl_easy_perform(easy_);
      if (attempt.stopped) return std::nullopt;
      AttemptEnd end = ReadAttempt(easy_, result, options_, error_, attempt.blocked,
                                   attempt.too_large, attempt.body.size());
      stats_.bytes += attempt.body.size();
      outcome = end.outcome;
      retry_after_ms = end.retry_after_ms;
      location = std::move(end.location);
      content_type = std::move(end.content_type);
      if (location.empty()) failure = ClassifyAttempt(end.facts);
    }
    if (!location.empty()) {
      gate_.Finished(host, kId, outcome, std::nullopt, Now());
      if (Status hop_refused = FollowRedirect(location, redirects, url, host); !hop_refused.ok()) {
        return Deliver(url, attempts, started, std::move(hop_refused), {}, {});
      }
      --attempts;  // a hop is part of the same attempt
      first = true;
      continue;
    }
    gate_.Finished(host, kId, outcome, retry_after_ms, Now());
    if (!failure.ok() && ShouldRetry(options_, failure, attempts)) {
      ++stats_.retries;
      // A paused host (connection failures, Retry-After) makes the retry wait for the host,
      // not on a backoff of its own.
      first = gate_.Paused(host);
      if (!first && !SleepUntil(Now() + std::chrono::milliseconds(
                                            BackoffMs(options_.retry, attempts, rng_)))) {
        return std::nullopt;
      }
      continue;
    }
    return Deliver(url, attempts, started, std::move(failure), std::move(attempt.body),
                   std::move(content_type));
  }
}

Status BlockingFetch::WaitForHost(const std::string& url, bool& stopped) {
  std::vector<uint32_t> ready;
  for (;;) {
    const TimePoint now = Now();
    gate_.TakeReady(now, 1, ready);
    if (!ready.empty()) return Status::Ok();
    for (auto& [id, why] : gate_.TakeFailed()) {
      return Status::Error(Code::kConnect, why + " at " + RedactUrl(url));
    }
    const TimePoint wake = gate_.NextWake().value_or(now + kPoll);
    if (!SleepUntil(wake)) {
      stopped = true;
      return Status::Ok();
    }
  }
}

bool BlockingFetch::SleepUntil(TimePoint until) {
  for (;;) {
    if (should_stop_ && should_stop_()) return false;
    const Duration left = until - Now();
    if (left <= Duration::zero()) return true;
    std::this_thread::sleep_for(std::min(left, kPoll));
  }
}

Download BlockingFetch::Deliver(std::string_view url, uint32_t attempts, TimePoint started,
                                Status failure, std::string body, std::string content_type) {
  Download d;
  d.url = RedactUrl(url);
  if (!failure.ok()) {
    failure = FinishFailureMessage(failure, d.url, attempts);
    ++stats_.failed;
  } else {
    d.body = ImageBuffer::FromString(std::move(body));
    ++stats_.ok;
  }
  d.failure = std::move(failure);
  d.attempts = attempts;
  d.elapsed = Now() - started;
  if (d.failure.ok()) {
    stats_.latency_us.Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(d.elapsed).count()));
  }
  d.content_type = std::move(content_type);
  return d;
}

// --- curl callbacks: nothing here throws (a failed append returns short: CURLE_WRITE_ERROR).

size_t BlockingFetch::OnBody(char* data, size_t size, size_t count, void* userp) {
  auto* a = static_cast<Attempt*>(userp);
  const size_t n = size * count;
  if (!WithinCap(a->owner->options_, a->body.size() + n)) {
    a->too_large = true;  // returning short aborts the transfer
    return 0;
  }
  try {
    a->body.append(data, n);
  } catch (...) {
    return 0;
  }
  return n;
}

curl_socket_t BlockingFetch::OnOpenSocket(void* clientp, curlsocktype purpose,
                                          curl_sockaddr* address) {
  auto* a = static_cast<Attempt*>(clientp);
  try {
    return OpenCheckedSocket(a->owner->options_, purpose, address, a->blocked);
  } catch (...) {
    return CURL_SOCKET_BAD;
  }
}

int BlockingFetch::OnProgress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* a = static_cast<Attempt*>(clientp);
  try {
    a->stopped = a->owner->should_stop_ && a->owner->should_stop_();
  } catch (...) {
    a->stopped = true;
  }
  return a->stopped ? 1 : 0;
}

}  // namespace pixelmill
