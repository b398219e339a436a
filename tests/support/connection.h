// Connection: one accepted TCP connection of the image API fixture server (image-api).
//
// Reads request heads incrementally, asks the server's Planner what to answer, and sends the
// response as the plan says: after a latency timer, all at once, in chunks (huge bodies,
// streamed from one reused filler buffer), dripped from a timer, cut short, never, or not at all
// (RST). Requests on a keep-alive connection are answered one at a time, in order; while one is
// in progress further bytes are buffered up to a bound, then reading pauses. A padded JPEG's
// bytes are produced piece by piece as they are written.
//
// Owned by HttpServer, which frees it only after the close callbacks of both its libuv handles
// (the socket and one timer) have run; pending write requests own their buffers (or borrow
// bytes owned by the ImageBank, the PhotoBank or this connection's current plan) until their
// callbacks.
// Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/fault_plan.h"
#include "tests/support/http_request.h"
#include "tests/support/padded_jpeg.h"

namespace pixelmill::fixture {

class HttpServer;

class Connection {
 public:
  explicit Connection(HttpServer& server) : server_(server) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Initialises the handles, accepts from `listener` and starts reading. On failure the
  // connection closes itself (and is freed by the server after its close callbacks).
  void Accept(uv_stream_t& listener);
  // Starts closing both handles; safe to call more than once.
  void Close();

 private:
  enum class State {
    kReading,   // waiting for (the rest of) a request head
    kWaiting,   // latency timer running before the response
    kSending,   // response writes in progress
    kHanging,   // fault=hang: discarding input until the client closes
    kDraining,  // response done, write side shut down: discarding input until EOF or timeout
    kClosed,    // uv_close called
  };
  struct WriteRequest;

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnClosed(uv_handle_t* handle);

  void HandleData(std::string_view data);
  void HandleEof();
  // Answers buffered requests until one is in progress or more bytes are needed.
  void ProcessRequests();
  void StartResponse();
  void SendResponse();
  // For a photo plan: fetches its bytes from the server's photo bank into photo_body_, or
  // turns the plan into a 500 naming what libvips said.
  void FetchPhoto();
  void SendError(int status, std::string_view message);
  std::string BuildHead() const;
  // Writes up to `max` further body bytes (with the pending head, if any, in front).
  void WriteBody(uint64_t max);
  void Write(std::string owned, std::string_view borrowed, std::string owned_suffix);
  // Called whenever a write completes or the drip timer fires: sends more or finishes.
  void Continue();
  void FinishResponse();
  void BeginDrain();
  void Reset();
  void StartReading();
  void StopReading();

  HttpServer& server_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};  // latency, drip and drain timeouts; one at a time
  uv_shutdown_t shutdown_req_{};
  int open_handles_ = 0;
  State state_ = State::kReading;
  bool reading_ = false;
  bool peer_eof_ = false;  // the client shut down its side; close after the current response

  RequestParser parser_;
  Request request_;
  ResponsePlan plan_;
  bool keep_alive_ = true;
  bool chunked_ = false;         // this response uses chunked transfer coding
  std::string pending_head_;     // written in front of the first body bytes
  std::string_view body_;        // static body (empty for streamed filler)
  std::string_view photo_body_;  // the photo bank's bytes when plan_.photo
  uint64_t body_total_ = 0;      // full body length (the Content-Length)
  uint64_t body_limit_ = 0;      // bytes to send before stopping (half when truncating)
  uint64_t body_sent_ = 0;
  uint64_t drip_bytes_ = 1;  // body bytes per drip tick
  bool trailer_sent_ = false;
  int writes_in_flight_ = 0;
  // body_ grown by ?pad=, produced as it is sent.
  std::optional<PaddedJpeg> padded_;
};

}  // namespace pixelmill::fixture
