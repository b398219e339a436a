#include "coordinator/downloader.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <ctime>
#include <mutex>

#include "coordinator/url_policy.h"

namespace pixelmill {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// One download slot: an easy handle reused download after download, its retry timer, and the
// state of the current download.
struct Downloader::Transfer {
  Downloader* owner = nullptr;
  CURL* easy = nullptr;
  uv_timer_t retry_timer{};
  char error[CURL_ERROR_SIZE] = {};
  // The current download.
  size_t tag = 0;
  std::string url;
  std::string body;
  uint32_t attempts = 0;
  double started = 0;
  std::string blocked;  // set by OnOpenSocket when it refuses an address
  bool too_large = false;
};

// A curl socket watched by the loop.
struct Downloader::Socket {
  Downloader* owner = nullptr;
  curl_socket_t fd = CURL_SOCKET_BAD;
  uv_poll_t poll{};
};

Downloader::Downloader(uv_loop_t& loop, const DownloadOptions& options, DoneFn on_done)
    : loop_(loop), options_(options), on_done_(std::move(on_done)), rng_(options.seed) {}

Downloader::~Downloader() { assert(multi_ == nullptr && handles_open_ == 0); }

Status Downloader::Init() {
  GlobalInitOnce();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return Status::Error("internal", "curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Downloader::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Downloader::OnCurlTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(options_.concurrency));
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options_.per_host));
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.concurrency));
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  ++handles_open_;

  const long timeout = static_cast<long>(options_.timeout_ms);
  slots_.reserve(options_.concurrency);
  for (size_t i = 0; i < options_.concurrency; ++i) {
    auto owned = std::make_unique<Transfer>();
    Transfer* t = owned.get();
    t->owner = this;
    uv_timer_init(&loop_, &t->retry_timer);
    t->retry_timer.data = t;
    ++handles_open_;
    slots_.push_back(std::move(owned));
    t->easy = curl_easy_init();
    if (t->easy == nullptr) return Status::Error("internal", "curl_easy_init failed");
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Downloader::OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Downloader::OnOpenSocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     std::min(timeout, static_cast<long>(options_.connect_timeout_ms)));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_window_s));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_image_bytes));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pixelmill/0.1");
    free_.push_back(t);
  }
  return Status::Ok();
}

std::optional<Failure> Downloader::Start(size_t tag, std::string_view url) {
  assert(!free_.empty() && !closing_);
  if (Status s = CheckUrl(url); !s.ok()) {
    return Failure{s.code(), s.message() + ": " + std::string(url), false};
  }
  Transfer& t = *free_.back();
  free_.pop_back();
  t.tag = tag;
  t.url.assign(url);
  t.attempts = 0;
  t.started = Now();
  if (auto failure = Attempt(t)) {
    free_.push_back(&t);
    return failure;
  }
  return std::nullopt;
}

// Starts one attempt; a failure to even add the transfer comes back as a value.
std::optional<Failure> Downloader::Attempt(Transfer& t) {
  ++t.attempts;
  ++stats_.requests;
  t.body.clear();
  t.blocked.clear();
  t.too_large = false;
  t.error[0] = '\0';
  curl_easy_setopt(t.easy, CURLOPT_URL, t.url.c_str());
  // Waiting for a connection that may multiplex pays off only where HTTP/2 can be negotiated
  // (https); over plain http it would hold every first request back by a round trip.
  curl_easy_setopt(t.easy, CURLOPT_PIPEWAIT, t.url.rfind("https:", 0) == 0 ? 1L : 0L);
  if (CURLMcode rc = curl_multi_add_handle(multi_, t.easy); rc != CURLM_OK) {
    return Failure{"internal", std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc),
                   false};
  }
  return std::nullopt;
}

// --- curl callbacks: only bookkeeping and loop handles here, never libcurl calls. -------------

int Downloader::OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<Downloader*>(userp);
  if (what == CURL_POLL_REMOVE) {
    // curl closes the socket after this returns: stop watching it now.
    if (socketp != nullptr) self->CloseSocket(fd);
    return 0;
  }
  auto* socket = static_cast<Socket*>(socketp);
  if (socket == nullptr) {
    auto owned = std::make_unique<Socket>();
    socket = owned.get();
    socket->owner = self;
    socket->fd = fd;
    if (uv_poll_init_socket(&self->loop_, &socket->poll, fd) != 0) return -1;
    socket->poll.data = socket;
    ++self->handles_open_;
    self->sockets_[fd] = std::move(owned);
    curl_multi_assign(self->multi_, fd, socket);
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
  return 0;
}

size_t Downloader::OnBody(char* data, size_t size, size_t count, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * count;
  const uint64_t cap = t->owner->options_.max_image_bytes;
  if (t->body.size() + n > cap) {
    t->too_large = true;  // returning short aborts the transfer with CURLE_WRITE_ERROR
    return 0;
  }
  if (t->body.empty()) {
    curl_off_t length = -1;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length > 0) t->body.reserve(static_cast<size_t>(std::min<uint64_t>(length, cap)));
  }
  t->body.append(data, n);
  return n;
}

curl_socket_t Downloader::OnOpenSocket(void* clientp, curlsocktype purpose,
                                       curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(clientp);
  if (purpose != CURLSOCKTYPE_IPCXN || address == nullptr) return CURL_SOCKET_BAD;
  const DownloadOptions& options = t->owner->options_;
  if (options.address_check) {
    if (auto why = options.address_check(address->addr)) {
      t->blocked = AddressToString(address->addr) + " (" + *why + ")";
      return CURL_SOCKET_BAD;
    }
  } else if (!options.allow_private_networks) {
    if (auto range = BlockedRange(address->addr)) {
      t->blocked = AddressToString(address->addr) + " (" + std::string(*range) +
                   " address; pass --allow-private-networks to allow)";
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
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
  socket->owner->Action(socket->fd, flags);
}

void Downloader::OnTimeout(uv_timer_t* timer) {
  static_cast<Downloader*>(timer->data)->Action(CURL_SOCKET_TIMEOUT, 0);
}

void Downloader::OnRetryTimer(uv_timer_t* timer) {
  auto* t = static_cast<Transfer*>(timer->data);
  if (auto failure = t->owner->Attempt(*t)) t->owner->Deliver(*t, std::move(failure));
}

void Downloader::Action(curl_socket_t fd, int events) {
  if (closing_) return;
  int running = 0;
  curl_multi_socket_action(multi_, fd, events, &running);
  DrainFinished();
}

void Downloader::DrainFinished() {
  // Collect first: finishing may start new transfers, which must not interleave with reading.
  std::vector<std::pair<Transfer*, CURLcode>> done;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    char* priv = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    done.emplace_back(reinterpret_cast<Transfer*>(priv), msg->data.result);
  }
  for (auto& [t, result] : done) {
    if (closing_) return;  // on_done closed us: the rest were abandoned
    curl_multi_remove_handle(multi_, t->easy);
    Finished(*t, result);
  }
}

void Downloader::Finished(Transfer& t, CURLcode result) {
  AttemptFacts facts;
  facts.curl = result;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &facts.http_status);
  facts.blocked = t.blocked;
  facts.too_large = t.too_large;
  facts.curl_error = t.error;
  stats_.bytes += t.body.size();
  std::optional<Failure> failure = ClassifyAttempt(facts);
  if (failure && failure->retryable && t.attempts <= options_.retry.retries) {
    std::optional<uint64_t> delay;
    curl_header* header = nullptr;
    if (facts.http_status == 429 || facts.http_status == 503) {
      if (curl_easy_header(t.easy, "Retry-After", 0, CURLH_HEADER, -1, &header) == CURLHE_OK) {
        delay = ParseRetryAfter(header->value, std::time(nullptr), options_.retry);
      }
    }
    ++stats_.retries;
    uv_timer_start(&t.retry_timer, &Downloader::OnRetryTimer,
                   delay.value_or(BackoffMs(options_.retry, t.attempts, rng_)), 0);
    return;
  }
  if (failure) {
    failure->message += " from " + t.url + " after " + std::to_string(t.attempts) +
                        (t.attempts == 1 ? " attempt" : " attempts");
  }
  Deliver(t, std::move(failure));
}

void Downloader::Deliver(Transfer& t, std::optional<Failure> failure) {
  Download d;
  d.tag = t.tag;
  d.failure = std::move(failure);
  d.url = std::move(t.url);
  d.attempts = t.attempts;
  d.seconds = Now() - t.started;
  if (!d.failure) {
    const char* type = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) d.content_type = type;
    d.body = std::move(t.body);
    ++stats_.ok;
    stats_.latency_ms.push_back(static_cast<float>(d.seconds * 1000));
  } else {
    ++stats_.failed;
  }
  t.body = std::string();
  free_.push_back(&t);
  on_done_(std::move(d));
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
  for (auto& t : slots_) {
    curl_multi_remove_handle(multi_, t->easy);  // harmless for idle handles
    curl_easy_cleanup(t->easy);
    t->easy = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&t->retry_timer),
             [](uv_handle_t* h) { static_cast<Transfer*>(h->data)->owner->HandleClosed(); });
  }
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { static_cast<Downloader*>(h->data)->HandleClosed(); });
}

void Downloader::HandleClosed() {
  assert(handles_open_ > 0);
  if (--handles_open_ == 0 && closing_ && on_closed_) {
    auto done = std::move(on_closed_);
    done();
  }
}

}  // namespace pixelmill
