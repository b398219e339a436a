#include "tests/support/connection.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "tests/support/http_server.h"

namespace pixelmill::fixture {
namespace {

constexpr uint64_t kChunkBytes = ImageBank::kFillerBytes;  // per write when streaming
constexpr int kMaxWritesInFlight = 2;
// Input buffered while a response is in progress before reading pauses (pipelining).
constexpr size_t kMaxBufferedWhileBusy = 2 * RequestParser::kMaxHead;
// How long a closing connection waits for the client's EOF after our FIN.
constexpr uint64_t kDrainTimeoutMs = 2000;

// A JPEG cut before its Start Of Scan marker: the headers, no image data.
std::string_view HeadersOnly(std::string_view jpeg) {
  return jpeg.substr(0, jpeg.find("\xFF\xDA"));
}

// libuv calls that cannot fail with valid arguments; a failure is a broken invariant.
void CheckUv(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "image-api: %s: %s\n", what, uv_strerror(rc));
    std::abort();
  }
}

std::string Hex(uint64_t value) {
  char digits[17];
  int n = std::snprintf(digits, sizeof(digits), "%llx", static_cast<unsigned long long>(value));
  return std::string(digits, static_cast<size_t>(n));
}

}  // namespace

struct Connection::WriteRequest {
  uv_write_t req{};
  Connection* connection = nullptr;
  std::string owned;
  std::string owned_suffix;
};

void Connection::Accept(uv_stream_t& listener) {
  CheckUv(uv_tcp_init(&server_.loop_, &tcp_), "uv_tcp_init");
  CheckUv(uv_timer_init(&server_.loop_, &timer_), "uv_timer_init");
  tcp_.data = this;
  timer_.data = this;
  open_handles_ = 2;
  if (uv_accept(&listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    Close();
    return;
  }
  uv_tcp_nodelay(&tcp_, 1);
  StartReading();
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
}

void Connection::OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto& self = *static_cast<Connection*>(handle->data);
  auto& buffer = self.server_.read_buffer_;
  *buf = uv_buf_init(buffer.data(), static_cast<unsigned int>(buffer.size()));
}

void Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto& self = *static_cast<Connection*>(stream->data);
  if (nread > 0) {
    self.HandleData(std::string_view(buf->base, static_cast<size_t>(nread)));
  } else if (nread == UV_EOF) {
    self.HandleEof();
  } else if (nread < 0) {
    self.Close();
  }
}

void Connection::HandleData(std::string_view data) {
  switch (state_) {
    case State::kReading:
      parser_.Feed(data);
      ProcessRequests();
      break;
    case State::kWaiting:
    case State::kSending:
      parser_.Feed(data);
      if (parser_.buffered() > kMaxBufferedWhileBusy) StopReading();
      break;
    case State::kHanging:
    case State::kDraining:
    case State::kClosed:
      break;  // discarded
  }
}

void Connection::HandleEof() {
  peer_eof_ = true;
  StopReading();
  // A response in progress is finished first (the client may have half-closed after sending).
  if (state_ != State::kWaiting && state_ != State::kSending) Close();
}

void Connection::ProcessRequests() {
  while (state_ == State::kReading) {
    switch (parser_.Next(request_)) {
      case ParseStatus::kNeedMore:
        if (peer_eof_) {
          Close();
        } else {
          StartReading();
        }
        return;
      case ParseStatus::kBadRequest:
        SendError(400, "bad request\n");
        return;
      case ParseStatus::kHeadTooLarge:
        SendError(431, "request head too large\n");
        return;
      case ParseStatus::kRequest:
        if (auto refused = server_.HeaderRefusal(request_)) {
          plan_ = ResponsePlan();
          plan_.status = refused->first;
          plan_.text = refused->second;
          keep_alive_ = request_.keep_alive;
          StartResponse();
          break;
        }
        plan_ = server_.planner_.Plan(request_);
        if (plan_.photo) FetchPhoto();
        keep_alive_ = request_.keep_alive && !plan_.close;
        StartResponse();
        break;
    }
  }
}

void Connection::SendError(int status, std::string_view message) {
  plan_ = ResponsePlan();
  plan_.status = status;
  plan_.text = message;
  keep_alive_ = false;
  request_ = Request();
  parser_.Clear();
  server_.Log(request_, status, "malformed request");
  SendResponse();
}

void Connection::FetchPhoto() {
  PhotoVariant variant = plan_.body == BodyKind::kCorrupt      ? PhotoVariant::kCorrupt
                         : plan_.body == BodyKind::kCorruptPng ? PhotoVariant::kCorruptPng
                         : plan_.body == BodyKind::kPoison     ? PhotoVariant::kPoison
                                                               : PhotoVariant::kImage;
  ImageFormat format = plan_.body == BodyKind::kImage ? plan_.format : ImageFormat::kJpeg;
  std::string error;
  std::optional<std::string_view> body = server_.photos_->Body(
      variant, format, plan_.image_id, plan_.photo_width, plan_.photo_height, error);
  if (body) {
    photo_body_ = *body;
    plan_.headers.emplace_back("X-Photo", server_.photos_->Name(plan_.image_id));
    return;
  }
  uint64_t latency_ms = plan_.latency_ms;
  bool close = plan_.close;
  plan_ = ResponsePlan();
  plan_.status = 500;
  plan_.text = error + "\n";
  plan_.latency_ms = latency_ms;
  plan_.close = close;
}

void Connection::StartResponse() {
  server_.Log(request_, plan_.status,
              plan_.delivery == Delivery::kReset  ? "reset"
              : plan_.delivery == Delivery::kHang ? "hang"
                                                  : "");
  if (plan_.latency_ms > 0 && plan_.delivery != Delivery::kHang) {
    state_ = State::kWaiting;
    uv_timer_start(&timer_, OnTimer, plan_.latency_ms, 0);
    return;
  }
  SendResponse();
}

void Connection::OnTimer(uv_timer_t* timer) {
  auto& self = *static_cast<Connection*>(timer->data);
  switch (self.state_) {
    case State::kWaiting:
      self.SendResponse();
      break;
    case State::kSending:  // drip tick
      if (self.writes_in_flight_ == 0 && self.body_sent_ < self.body_limit_) {
        self.WriteBody(self.drip_bytes_);
      }
      if (self.body_sent_ >= self.body_limit_) uv_timer_stop(&self.timer_);
      break;
    case State::kDraining:
      self.Close();
      break;
    default:
      break;
  }
}

void Connection::SendResponse() {
  if (plan_.delivery == Delivery::kReset) {
    Reset();
    return;
  }
  if (plan_.delivery == Delivery::kHang) {
    state_ = State::kHanging;
    parser_.Clear();
    StartReading();
    return;
  }
  state_ = State::kSending;
  chunked_ = plan_.chunked && request_.version_minor == 1;
  if (plan_.chunked && !chunked_) keep_alive_ = false;  // HTTP/1.0: the body ends at close
  const ImageBank& bank = server_.bank_;
  if (plan_.photo) {
    body_ = plan_.body == BodyKind::kHeaderOnly ? HeadersOnly(photo_body_) : photo_body_;
  } else {
    switch (plan_.body) {
      case BodyKind::kText:
        body_ = plan_.text;
        break;
      case BodyKind::kImage:
        body_ = bank.Image(plan_.format, plan_.image_id);
        break;
      case BodyKind::kCorrupt:
        body_ = bank.Corrupt(plan_.image_id);
        break;
      case BodyKind::kCorruptPng:
        body_ = bank.CorruptPng(plan_.image_id);
        break;
      case BodyKind::kHeaderOnly: {
        body_ = HeadersOnly(bank.Image(ImageFormat::kJpeg, plan_.image_id));
        break;
      }
      case BodyKind::kPoison:
        body_ = bank.Poison(plan_.image_id);
        break;
      case BodyKind::kBomb:
        body_ = bank.Bomb();
        break;
      case BodyKind::kHostile:
        body_ = bank.Hostile(plan_.hostile);
        break;
      case BodyKind::kHuge:
        body_ = {};
        break;
    }
  }
  padded_.reset();
  if (plan_.pad_to > 0) padded_.emplace(body_, plan_.pad_to);
  body_total_ = plan_.body == BodyKind::kHuge ? plan_.huge_bytes
                : padded_                     ? padded_->size()
                                              : body_.size();
  body_limit_ = plan_.delivery == Delivery::kTruncate ? body_total_ / 2 : body_total_;
  body_sent_ = 0;
  trailer_sent_ = false;
  pending_head_ = BuildHead();
  if (plan_.delivery == Delivery::kDrip) {
    uint64_t rate = std::max<uint64_t>(plan_.drip_rate, 1);
    uint64_t interval_ms = rate >= 10 ? 100 : 1000 / rate;
    drip_bytes_ = rate >= 10 ? rate / 10 : 1;
    Write(std::move(pending_head_), {}, {});
    pending_head_.clear();
    uv_timer_start(&timer_, OnTimer, interval_ms, interval_ms);
  }
  Continue();
}

std::string Connection::BuildHead() const {
  if (plan_.http09) return {};
  std::string head = "HTTP/1.1 " + std::to_string(plan_.status) + " ";
  head.append(ReasonPhrase(plan_.status)).append("\r\nContent-Type: ");
  head.append(plan_.content_type).append("\r\n");
  if (chunked_) {
    head.append("Transfer-Encoding: chunked\r\n");
  } else if (!plan_.chunked) {
    head.append("Content-Length: ").append(std::to_string(body_total_)).append("\r\n");
  }
  for (const auto& [name, value] : plan_.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head.append(keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
  return head;
}

void Connection::WriteBody(uint64_t max) {
  std::string prefix = std::move(pending_head_);
  pending_head_.clear();
  uint64_t n = std::min(max, body_limit_ - body_sent_);
  std::string_view piece;
  std::string produced;  // a padded JPEG's bytes, made for this write
  if (padded_) {
    padded_->Append(body_sent_, n, produced);
  } else if (plan_.body == BodyKind::kHuge) {
    std::string_view filler = server_.bank_.Filler();
    size_t offset = static_cast<size_t>(body_sent_ % filler.size());
    n = std::min<uint64_t>(n, filler.size() - offset);
    piece = filler.substr(offset, static_cast<size_t>(n));
  } else {
    piece = body_.substr(static_cast<size_t>(body_sent_), static_cast<size_t>(n));
  }
  body_sent_ += n;
  std::string suffix = std::move(produced);
  if (chunked_ && n > 0) {
    prefix.append(Hex(n)).append("\r\n");
    suffix.append("\r\n");
  }
  Write(std::move(prefix), piece, std::move(suffix));
}

void Connection::Write(std::string owned, std::string_view borrowed, std::string owned_suffix) {
  auto request = std::make_unique<WriteRequest>();
  request->connection = this;
  request->owned = std::move(owned);
  request->owned_suffix = std::move(owned_suffix);
  uv_buf_t bufs[3];
  unsigned int count = 0;
  for (std::string_view part :
       {std::string_view(request->owned), borrowed, std::string_view(request->owned_suffix)}) {
    if (part.empty()) continue;
    bufs[count++] = uv_buf_init(const_cast<char*>(part.data()), static_cast<unsigned>(part.size()));
  }
  if (count == 0) return;
  request->req.data = request.get();
  if (uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, count, OnWrite) != 0) {
    Close();
    return;
  }
  request.release();  // owned by libuv until OnWrite
  ++writes_in_flight_;
}

void Connection::OnWrite(uv_write_t* req, int status) {
  std::unique_ptr<WriteRequest> request(static_cast<WriteRequest*>(req->data));
  Connection& self = *request->connection;
  --self.writes_in_flight_;
  if (status < 0) {
    self.Close();
    return;
  }
  self.Continue();
}

void Connection::Continue() {
  if (state_ != State::kSending) return;
  if (plan_.delivery != Delivery::kDrip) {
    while (state_ == State::kSending && writes_in_flight_ < kMaxWritesInFlight &&
           (body_sent_ < body_limit_ || !pending_head_.empty())) {
      WriteBody(kChunkBytes);
    }
  }
  if (state_ != State::kSending || body_sent_ < body_limit_ || writes_in_flight_ > 0) return;
  if (chunked_ && !trailer_sent_ && body_limit_ == body_total_) {
    trailer_sent_ = true;
    Write("0\r\n\r\n", {}, {});
    return;
  }
  FinishResponse();
}

void Connection::FinishResponse() {
  uv_timer_stop(&timer_);
  bool truncated = body_limit_ < body_total_;
  body_ = {};
  if (!keep_alive_ || truncated) {
    if (peer_eof_) {
      Close();
    } else {
      BeginDrain();
    }
    return;
  }
  state_ = State::kReading;
  ProcessRequests();
}

// Half-closes and waits for the client's EOF: closing with unread input would send an RST
// that can destroy the response before the client reads it.
void Connection::BeginDrain() {
  state_ = State::kDraining;
  parser_.Clear();
  shutdown_req_.data = this;
  if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    Close();
    return;
  }
  uv_timer_start(&timer_, OnTimer, kDrainTimeoutMs, 0);
  StartReading();
}

void Connection::OnShutdown(uv_shutdown_t* req, int status) {
  if (status < 0) static_cast<Connection*>(req->data)->Close();
}

void Connection::Reset() {
  state_ = State::kClosed;
  reading_ = false;
  if (uv_tcp_close_reset(&tcp_, OnClosed) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
}

void Connection::StartReading() {
  if (reading_ || peer_eof_ || state_ == State::kClosed) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) != 0) {
    Close();
    return;
  }
  reading_ = true;
}

void Connection::StopReading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Connection::OnClosed(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->open_handles_ == 0) self->server_.Forget(self);  // frees self
}

}  // namespace pixelmill::fixture
