#include "coordinator/download/downloader.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <chrono>

#include "coordinator/download/url_policy.h"
#include "coordinator/events/callback_guard.h"

namespace pixelmill {

// One accepted download, from Start() to delivery: waiting (in the gate or a backoff), being
// resolved (proxy mode), or on the wire with an easy handle.
struct Downloader::Fetch {
  Downloader* owner = nullptr;
  uint32_t id = 0;
  size_t tag = 0;
  std::string url, host;  // host: HostGate key of url
  uint32_t attempts = 0, redirects = 0;
  TimePoint started{};         // accepted by Start(): the user's admission
  TimePoint on_wire{};         // its first attempt went on the wire (a connection slot was free)
  Easy* easy = nullptr;        // while on the wire
  uv_getaddrinfo_t resolve{};  // proxy mode: the target is resolved and checked first
  bool resolving = false;
  GrowableBytes body;
  std::string content_type;
  BodyLease body_lease;  // body's bytes in the budget
  std::string blocked;   // set by OnOpenSocket when it refuses an address
  bool too_large = false;
  bool own_host = true;  // still on its input URL's host (scheme, name and port): headers go
};

// An easy handle with its error buffer, reused by one transfer after another.
struct Downloader::Easy {
  CURL* handle = nullptr;
  char error[CURL_ERROR_SIZE] = {};
};

// A curl socket watched by the loop.
struct Downloader::Socket {
  Downloader* owner = nullptr;
  curl_socket_t fd = CURL_SOCKET_BAD;
  uv_poll_t poll{};
};

namespace {

size_t DefaultBacklog(const DownloadOptions& o) {
  return o.backlog > 0 ? o.backlog : std::max<size_t>(1024, 8 * o.concurrency);
}

HostGateOptions GateOptions(const DownloadOptions& o) {
  HostGateOptions h = o.health;
  h.per_host = o.per_host;
  return h;
}

}  // namespace

Downloader::Downloader(uv_loop_t& loop, const DownloadOptions& options, DoneFn on_done,
                       ByteBudget* budget, const Clock& clock)
    : loop_(loop),
      clock_(clock),
      options_(options),
      concurrency_(options.concurrency),
      backlog_(DefaultBacklog(options)),
      on_done_(std::move(on_done)),
      gate_(GateOptions(options)),
      headers_(options.headers),
      budget_(budget, options.max_image_bytes),
      rng_(options.seed) {}

Downloader::~Downloader() {
  assert(multi_ == nullptr && handles_open_ == 0);
  for (auto& e : easies_) {
    if (e->handle != nullptr) curl_easy_cleanup(e->handle);
  }
}

Status Downloader::Init() {
  CurlGlobalInitOnce();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return Status::Error(Code::kInternal, "curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Downloader::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Downloader::OnCurlTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // The gate keeps transfers within concurrency and per-host limits before curl sees them;
  // limits inside curl would only add a hidden queue whose wait counts against the timeout.
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(std::min<size_t>(concurrency_, 10000)));
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  // HTTP/2: every download --per-host lets on the wire may share one connection (curl's own cap
  // is 100 streams, past which each waiting transfer opened a connection of its own); the
  // server's SETTINGS still bound it.
  curl_multi_setopt(multi_, CURLMOPT_MAX_CONCURRENT_STREAMS,
                    static_cast<long>(std::clamp<size_t>(options_.per_host, 100, 10000)));
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_init(&loop_, &wake_);
  wake_.data = this;
  handles_open_ += 2;
  return Status::Ok();
}

Status Downloader::Start(size_t tag, std::string_view url) {
  assert(!closing_);
  std::string host;
  if (Status s = CheckUrl(url, &host); !s.ok()) return s.WithSuffix(": " + RedactUrl(url));
  uint32_t id;
  if (free_fetches_.empty()) {
    id = static_cast<uint32_t>(fetches_.size());
    fetches_.push_back(std::make_unique<Fetch>());
    fetches_.back()->owner = this;
    fetches_.back()->id = id;
  } else {
    id = free_fetches_.back();
    free_fetches_.pop_back();
  }
  Fetch& f = *fetches_[id];
  f.tag = tag;
  f.body_lease.id = id;
  budget_.Bind(f.body_lease);
  f.url.assign(url);
  f.host = std::move(host);
  f.attempts = f.redirects = 0;
  f.own_host = true;
  f.started = clock_.Now();
  if (auto down = gate_.Push(f.host, id, f.started)) {
    free_fetches_.push_back(id);
    return Status::Error(Code::kConnect, *down + " at " + RedactUrl(f.url));
  }
  ++pending_;
  WakeSoon();
  return Status::Ok();
}

// Queues a fetch for its host again (a redirect hop, or a retry the host's pause holds back).
void Downloader::Queue(Fetch& f, bool first) {
  if (auto down = gate_.Push(f.host, f.id, clock_.Now(), first)) {
    return Deliver(f, Status::Error(Code::kConnect, *down));
  }
  WakeSoon();
}

void Downloader::ScheduleWake(TimePoint at) {
  if (closing_) return;
  const TimePoint now = clock_.Now();
  at = std::max(at, now);
  if (wake_at_ && *wake_at_ <= at) return;  // an earlier wake-up is already set
  wake_at_ = at;
  const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  uv_timer_start(&wake_, &Downloader::OnWake, static_cast<uint64_t>(delay.count()), 0);
}

void Downloader::OnWake(uv_timer_t* timer) {
  Guarded(timer->loop, "download wake-up", [&] { static_cast<Downloader*>(timer->data)->Wake(); });
}

// Resumes what the budget now grants, moves due retries to their hosts, fails the downloads of
// hosts that went down, and puts on the wire whatever the gate (and the budget) lets start.
void Downloader::Wake() {
  wake_at_.reset();
  Resume();
  const TimePoint now = clock_.Now();
  while (!backoff_.empty() && backoff_.top().first <= now) {
    Fetch& f = *fetches_[backoff_.top().second];
    backoff_.pop();
    if (auto down = gate_.Push(f.host, f.id, now)) {
      Deliver(f, Status::Error(Code::kConnect, *down));
      if (closing_) return;
    }
  }
  std::vector<uint32_t> ready;
  const size_t slots = concurrency_ - std::min(concurrency_, on_wire_);
  gate_.TakeReady(now, stopped_starting_ ? 0 : budget_.Admissible(slots), ready);
  for (uint32_t id : ready) {
    if (closing_) return;  // a delivery (a request that failed at once) closed us
    PutOnWire(*fetches_[id]);
  }
  for (auto& [id, why] : gate_.TakeFailed()) {
    if (closing_) return;
    Fetch& f = *fetches_[id];
    Deliver(f, Status::Error(Code::kConnect, why + " at " + RedactUrl(f.url)));
  }
  if (closing_) return;
  if (!backoff_.empty()) ScheduleWake(backoff_.top().first);
  if (auto next = gate_.NextWake()) ScheduleWake(*next);
  NoteBudgetWait();
}

void Downloader::OnBudgetFreed() {
  if (closing_ || multi_ == nullptr) return;
  if (in_curl_) return WakeSoon();
  Resume();
  if (gate_.waiting() > 0 && on_wire_ < concurrency_ && budget_.MayStart()) WakeSoon();
  NoteBudgetWait();
}

// Unpauses the transfers whose bodies the budget grants now, and takes off the wire those whose
// bytes it took back. Outside curl's callbacks only.
void Downloader::Resume() {
  if (in_curl_ || budget_.paused() == 0) return;
  const BudgetGrants grants = budget_.TakeResumable();
  for (uint32_t id : grants.stopped) Requeue(*fetches_[id]);
  in_curl_ = true;
  for (uint32_t id : grants.resumed) {
    // curl delivers the data it held back, often before this returns (into OnBody, which may
    // pause the transfer again).
    if (Easy* easy = fetches_[id]->easy) curl_easy_pause(easy->handle, CURLPAUSE_CONT);
  }
  in_curl_ = false;
}

// Only paused bodies held the budget, and this one was the youngest: the budget took its bytes
// back. The server did nothing wrong, so this is no failed attempt: the download goes back to its
// host's queue and starts afresh once the budget has room.
void Downloader::Requeue(Fetch& f) {
  assert(f.easy != nullptr);
  curl_multi_remove_handle(multi_, f.easy->handle);
  idle_easies_.push_back(f.easy);
  f.easy = nullptr;
  DropBody(f);
  --on_wire_;
  --f.attempts;
  const TimePoint now = clock_.Now();
  gate_.Finished(f.host, f.id, HostGate::Outcome::kOk, std::nullopt, now);
  backoff_.emplace(now, f.id);  // queued for its host at the next wake-up
  WakeSoon();
}

void Downloader::NoteBudgetWait() {
  budget_.NoteWaiting(clock_.Now(), gate_.waiting() > 0 && !budget_.MayStart());
}

DownloadStats Downloader::stats() const {
  DownloadStats s = stats_;
  s.budget_pauses = budget_.pauses();
  s.budget_stopped = budget_.stopped();
  s.budget_wait_seconds = Seconds(budget_.waited(clock_.Now()));
  s.throttle = gate_.throttle_times();
  return s;
}

void Downloader::PutOnWire(Fetch& f) {
  ++on_wire_;
  if (f.attempts == 0) f.on_wire = clock_.Now();
  ++f.attempts;
  ++stats_.requests;
  budget_.Admit(f.body_lease);
  f.body.Clear();
  f.blocked.clear();
  f.too_large = false;
  if (options_.proxy.empty()) return AddToCurl(f);
  // Through a proxy, curl connects only to the proxy: the target's addresses are checked here,
  // before the request, the same way OnOpenSocket checks a direct connection.
  const std::string name = UrlHost(f.url);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  f.resolve.data = &f;
  f.resolving = true;
  if (int rc = uv_getaddrinfo(&loop_, &f.resolve, &Downloader::OnResolved, name.c_str(), nullptr,
                              &hints);
      rc != 0) {
    f.resolving = false;
    EndAttempt(f, Status::Error(Code::kDns, "cannot resolve " + name + ": " + uv_strerror(rc)),
               HostGate::Outcome::kConnectFailed, std::nullopt);
  }
}

void Downloader::OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  // Owns `result` before anything can throw.
  std::unique_ptr<addrinfo, decltype(&uv_freeaddrinfo)> owned(result, &uv_freeaddrinfo);
  auto* f = static_cast<Fetch*>(req->data);
  Guarded(req->loop, "name lookup", [&] { f->owner->Resolved(*f, status, owned.get()); });
}

void Downloader::Resolved(Fetch& fetch, int status, addrinfo* result) {
  Fetch* f = &fetch;
  f->resolving = false;
  if (closing_) return HandleClosed();
  if (status < 0) {
    return EndAttempt(*f,
                      Status::Error(Code::kDns, "host name did not resolve (" +
                                                    std::string(uv_strerror(status)) + ")"),
                      HostGate::Outcome::kConnectFailed, std::nullopt);
  }
  if (Status refused = CheckTarget(options_, result); !refused.ok()) {
    return EndAttempt(*f, std::move(refused), HostGate::Outcome::kOk, std::nullopt);
  }
  AddToCurl(*f);
}

Downloader::Easy* Downloader::TakeEasy() {
  if (!idle_easies_.empty()) {
    Easy* e = idle_easies_.back();
    idle_easies_.pop_back();
    return e;
  }
  easies_.push_back(std::make_unique<Easy>());
  Easy* easy = easies_.back().get();
  CURL* e = curl_easy_init();
  if (e == nullptr) return nullptr;
  easy->handle = e;
  // Redirects are followed by Finished(): each hop is checked and waits for its own host.
  ConfigureEasy(e, options_, easy->error);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Downloader::OnBody);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Downloader::OnOpenSocket);
  return easy;
}

void Downloader::AddToCurl(Fetch& f) {
  f.easy = TakeEasy();
  if (f.easy == nullptr || f.easy->handle == nullptr) {
    if (f.easy != nullptr) idle_easies_.push_back(f.easy);
    f.easy = nullptr;
    return EndAttempt(f, Status::Error(Code::kInternal, "curl_easy_init failed"),
                      HostGate::Outcome::kOk, std::nullopt);
  }
  CURL* e = f.easy->handle;
  f.easy->error[0] = '\0';
  curl_easy_setopt(e, CURLOPT_PRIVATE, &f);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &f);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &f);
  curl_easy_setopt(e, CURLOPT_URL, f.url.c_str());
  // --header's values (tokens) only for the host the input named, never a redirect's other host.
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, f.own_host ? headers_.get() : nullptr);
  // Waiting for a connection that may multiplex pays off only where HTTP/2 can be negotiated
  // (https); over plain http it would hold every first request back by a round trip.
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, f.url.rfind("https:", 0) == 0 ? 1L : 0L);
  if (CURLMcode rc = curl_multi_add_handle(multi_, e); rc != CURLM_OK) {
    idle_easies_.push_back(f.easy);
    f.easy = nullptr;
    EndAttempt(f,
               Status::Error(Code::kInternal,
                             std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc)),
               HostGate::Outcome::kOk, std::nullopt);
  }
}

// --- curl callbacks: only bookkeeping and loop handles here, never libcurl calls. -------------

int Downloader::OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<Downloader*>(userp);
  int rc = -1;
  Guarded(&self->loop_, "curl socket callback",
          [&] { rc = self->WatchSocket(fd, what, static_cast<Socket*>(socketp)); });
  return rc;
}

int Downloader::WatchSocket(curl_socket_t fd, int what, Socket* socket) {
  if (what == CURL_POLL_REMOVE) {
    // curl closes the socket after this returns: stop watching it now.
    if (socket != nullptr) CloseSocket(fd);
    return 0;
  }
  if (socket == nullptr) {
    auto owned = std::make_unique<Socket>();
    socket = owned.get();
    socket->owner = this;
    socket->fd = fd;
    if (uv_poll_init_socket(&loop_, &socket->poll, fd) != 0) return -1;
    socket->poll.data = socket;
    ++handles_open_;
    sockets_[fd] = std::move(owned);
    curl_multi_assign(multi_, fd, socket);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  uv_poll_start(&socket->poll, events, &Downloader::OnPoll);
  return 0;
}

int Downloader::OnCurlTimer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<Downloader*>(userp);
  if (timeout_ms < 0) {
    uv_timer_stop(&self->timer_);
  } else {
    uv_timer_start(&self->timer_, &Downloader::OnTimeout, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;  // nothing here can throw
}

size_t Downloader::OnBody(char* data, size_t size, size_t count, void* userp) {
  auto* f = static_cast<Fetch*>(userp);
  // 0 (fewer bytes than given) makes curl fail the transfer with CURLE_WRITE_ERROR: what an
  // exception here (out of memory growing the body) becomes, besides the fatal error.
  size_t taken = 0;
  Guarded(&f->owner->loop_, "download body",
          [&] { taken = f->owner->TakeBody(*f, data, size * count); });
  return taken;
}

size_t Downloader::TakeBody(Fetch& fetch, const char* data, size_t n) {
  Fetch* f = &fetch;
  const uint64_t need = f->body.size() + n;
  if (!WithinCap(options_, need)) {
    f->too_large = true;  // returning short aborts the transfer with CURLE_WRITE_ERROR
    return 0;
  }
  const uint64_t held = f->body_lease.lease.bytes();
  if (need > held || !f->body_lease.sized || need > f->body.capacity()) {
    curl_off_t length = -1;
    curl_easy_getinfo(f->easy->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if ((need > held || !f->body_lease.sized) && !budget_.Reserve(f->body_lease, need, length)) {
      // curl keeps this data and delivers it again once resumed. The wake-up decides whether
      // only paused bodies now hold the budget.
      WakeSoon();
      return CURL_WRITEFUNC_PAUSE;
    }
    // Room for what is expected: the Content-Length, else what the lease grants.
    const uint64_t granted = f->body_lease.lease.bytes();
    const uint64_t expected = length >= 0 ? std::min<uint64_t>(granted, length) : granted;
    f->body.Reserve(static_cast<size_t>(std::max(need, expected)));
  }
  f->body.Append(data, n);
  return n;
}

curl_socket_t Downloader::OnOpenSocket(void* clientp, curlsocktype purpose,
                                       curl_sockaddr* address) {
  auto* f = static_cast<Fetch*>(clientp);
  curl_socket_t fd = CURL_SOCKET_BAD;
  // Through a proxy this connection goes to the proxy the operator chose; the target was
  // checked before the request (PutOnWire).
  Guarded(&f->owner->loop_, "curl open socket",
          [&] { fd = OpenCheckedSocket(f->owner->options_, purpose, address, f->blocked); });
  return fd;
}

// --- loop callbacks: here libcurl is driven. -------------------------------------------------

void Downloader::OnPoll(uv_poll_t* poll, int status, int events) {
  auto* socket = static_cast<Socket*>(poll->data);
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  Guarded(poll->loop, "download socket", [&] { socket->owner->Action(socket->fd, flags); });
}

void Downloader::OnTimeout(uv_timer_t* timer) {
  Guarded(timer->loop, "curl timer",
          [&] { static_cast<Downloader*>(timer->data)->Action(CURL_SOCKET_TIMEOUT, 0); });
}

void Downloader::Action(curl_socket_t fd, int events) {
  if (closing_) return;
  int running = 0;
  in_curl_ = true;
  curl_multi_socket_action(multi_, fd, events, &running);
  in_curl_ = false;
  DrainFinished();
}

void Downloader::DrainFinished() {
  // Collect first: finishing may start new transfers, which must not interleave with reading.
  std::vector<std::pair<Fetch*, CURLcode>> done;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    char* priv = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    done.emplace_back(reinterpret_cast<Fetch*>(priv), msg->data.result);
  }
  for (auto& [f, result] : done) {
    if (closing_) return;  // on_done closed us: the rest were abandoned
    Finished(*f, result);
  }
}

// The connection a finished request opened, if any, and the HTTP version its answer (HTTP status
// `status`, 0 for none) came in.
void Downloader::CountConnection(CURL* e, long status) {
  long connects = 0, version = 0;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
  stats_.connections += static_cast<uint64_t>(connects);
  if (status == 0) return;
  if (version == CURL_HTTP_VERSION_2_0) {
    ++stats_.http2_responses;
  } else if (version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1) {
    ++stats_.http1_responses;
  }
}

// One request is over: read what curl saw, give the easy handle back, then follow a redirect,
// schedule a retry, or deliver.
void Downloader::Finished(Fetch& f, CURLcode result) {
  CURL* e = f.easy->handle;
  curl_multi_remove_handle(multi_, e);
  budget_.Forget(f.body_lease);  // it may have timed out while paused
  AttemptEnd end =
      ReadAttempt(e, result, options_, f.easy->error, f.blocked, f.too_large, f.body.size());
  f.content_type = std::move(end.content_type);
  CountConnection(e, end.facts.http_status);
  idle_easies_.push_back(f.easy);
  f.easy = nullptr;
  stats_.bytes += f.body.size();
  if (!end.location.empty()) {
    DropBody(f);
    --on_wire_;
    gate_.Finished(f.host, f.id, end.outcome, std::nullopt, clock_.Now());
    WakeSoon();  // a connection is free again
    const std::string from_host = f.host;
    if (Status refused = FollowRedirect(end.location, f.redirects, f.url, f.host); !refused.ok()) {
      return Deliver(f, std::move(refused));
    }
    if (f.host != from_host) f.own_host = false;
    --f.attempts;  // a hop is part of the same attempt
    return Queue(f, true);
  }
  // Pushback is a 429, or a 503 that says when to come back; a bare 5xx is a server error.
  const bool throttled = end.facts.http_status == 429 ||
                         (end.facts.http_status == 503 && end.retry_after_ms.has_value());
  EndAttempt(f, ClassifyAttempt(end.facts), end.outcome, end.retry_after_ms, throttled);
}

// The attempt is over (on the wire or refused before it): tell the gate, then retry or deliver.
void Downloader::EndAttempt(Fetch& f, Status failure, HostGate::Outcome outcome,
                            std::optional<uint64_t> retry_after_ms, bool throttled) {
  --on_wire_;
  const TimePoint now = clock_.Now();
  gate_.Finished(f.host, f.id, outcome, retry_after_ms, now, throttled);
  WakeSoon();                      // a connection is free again
  if (!failure.ok()) DropBody(f);  // its budget goes back now, not when the retry starts
  if (!failure.ok() && ShouldRetry(options_, failure, f.attempts)) {
    ++stats_.retries;
    // A paused host makes all its downloads wait once, together: no timer of this one's own.
    if (gate_.Paused(f.host)) return Queue(f, true);
    backoff_.emplace(now + std::chrono::milliseconds(BackoffMs(options_.retry, f.attempts, rng_)),
                     f.id);
    return ScheduleWake(backoff_.top().first);
  }
  Deliver(f, std::move(failure));
}

void Downloader::Deliver(Fetch& f, Status failure) {
  Download d;
  d.tag = f.tag;
  d.url = RedactUrl(f.url);
  if (!failure.ok()) {
    failure = FinishFailureMessage(failure, d.url, f.attempts);
    ++stats_.failed;
  } else {
    budget_.NoteDelivered(f.body_lease, f.body.size());
    // Spare room goes back (a mapping shrinks without a copy), and so does its lease.
    f.body.ShrinkToFit();
    ByteLease& lease = f.body_lease.lease;
    lease.Shrink(std::min<uint64_t>(lease.bytes(), f.body.capacity()));
    d.body = ImageBuffer::FromBytes(std::move(f.body));
    d.body.set_lease(std::move(lease));
    ++stats_.ok;
  }
  d.failure = std::move(failure);
  d.attempts = f.attempts;
  const TimePoint now = clock_.Now();
  d.elapsed = now - f.started;
  if (d.failure.ok()) {
    const auto micros = [](Duration span) {
      return static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(span).count());
    };
    stats_.latency_us.Record(micros(d.elapsed));
    stats_.slot_wait_us.Record(micros(f.on_wire - f.started));
    stats_.transfer_us.Record(micros(now - f.on_wire));
  }
  d.content_type = std::move(f.content_type);
  DropBody(f);
  f.url = std::string();
  f.content_type.clear();
  free_fetches_.push_back(f.id);
  --pending_;
  on_done_(std::move(d));
}

void Downloader::DropBody(Fetch& f) {
  f.body.Clear();
  f.body_lease.lease.Reset();
}

// --- closing ------------------------------------------------------------------------------

void Downloader::CloseSocket(curl_socket_t fd) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return;
  Socket* socket = it->second.get();
  closing_sockets_[socket] = std::move(it->second);
  sockets_.erase(it);
  uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll), [](uv_handle_t* h) {
    auto* s = static_cast<Socket*>(h->data);
    Downloader* self = s->owner;
    self->closing_sockets_.erase(s);
    self->HandleClosed();
  });
}

void Downloader::Close(std::function<void()> on_closed) {
  assert(!closing_);
  closing_ = true;
  on_closed_ = std::move(on_closed);
  if (multi_ == nullptr) {
    if (on_closed_) on_closed_();
    return;
  }
  // Stop watching every socket first (synchronously, in uv_close), then let curl close them.
  while (!sockets_.empty()) CloseSocket(sockets_.begin()->first);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, nullptr);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, nullptr);
  for (auto& f : fetches_) {
    if (f->easy != nullptr) curl_multi_remove_handle(multi_, f->easy->handle);
    budget_.Forget(f->body_lease);
    DropBody(*f);
    // A lookup in flight finishes (or is cancelled) with its callback: wait for it.
    if (f->resolving) {
      ++handles_open_;
      uv_cancel(reinterpret_cast<uv_req_t*>(&f->resolve));
    }
  }
  for (auto& e : easies_) {
    if (e->handle != nullptr) curl_easy_cleanup(e->handle);
    e->handle = nullptr;
  }
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  const auto closed = [](uv_handle_t* h) { static_cast<Downloader*>(h->data)->HandleClosed(); };
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), closed);
}

void Downloader::HandleClosed() {
  assert(handles_open_ > 0);
  if (--handles_open_ == 0 && closing_ && on_closed_) {
    auto done = std::move(on_closed_);
    done();
  }
}

}  // namespace pixelmill
