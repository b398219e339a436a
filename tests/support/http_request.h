// Incremental HTTP/1.x request-head parsing for the image API fixture server (image-api).
//
// RequestParser takes bytes as they arrive from one connection (a head may come in pieces,
// several pipelined requests may come in one piece) and hands out one complete request head at a
// time. It never trusts its input: a malformed head is reported, never a crash, and at most
// kMaxHead bytes of an incomplete head are buffered. Request bodies are skipped, not kept.
// Pure code with no I/O; one parser per connection, used from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pixelmill::fixture {

struct Request {
  std::string method;
  std::string target;      // the path plus an optional "?query" (origin form)
  bool proxied = false;    // sent in absolute form, as to a forward proxy
  std::string path;        // target before the first '?'
  std::string query;       // target after the first '?' (empty if none), still percent-encoded
  int version_minor = 1;   // the x of HTTP/1.x
  bool keep_alive = true;  // HTTP/1.1 default unless "Connection: close"; HTTP/1.0 needs keep-alive
  std::string host;        // the Host header, empty if absent
  // Every other header but Connection and Content-Length, as sent ("Name", "value").
  std::vector<std::pair<std::string, std::string>> headers;
};

enum class ParseStatus {
  kNeedMore,      // no complete head buffered yet
  kRequest,       // one request head was consumed
  kBadRequest,    // malformed head: answer 400 and close
  kHeadTooLarge,  // head longer than kMaxHead: answer 431 and close
};

class RequestParser {
 public:
  static constexpr size_t kMaxHead = 16 * 1024;

  // Appends received bytes (a body still being skipped is dropped, not buffered).
  void Feed(std::string_view data);
  // Consumes the next complete request head into `request` when it returns kRequest.
  // After kBadRequest or kHeadTooLarge the connection is unusable; call Clear() before reuse.
  ParseStatus Next(Request& request);
  // Drops everything buffered.
  void Clear();

  size_t buffered() const { return buffer_.size(); }

 private:
  ParseStatus ParseHead(std::string_view head, Request& request);

  std::string buffer_;
  size_t scanned_ = 0;         // buffer_ holds no empty line before this offset
  uint64_t body_to_skip_ = 0;  // bytes of the last request's body not yet received
};

struct QueryParam {
  std::string key;       // percent-decoded
  std::string value;     // percent-decoded
  std::string_view raw;  // the undecoded "key=value" piece, a view into the parsed query
};

// Decodes %XX escapes ('+' stays '+'); nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);
// Splits a query ("a=1&b=%41") into decoded parameters in order; nullopt on a malformed escape.
// The result's raw views point into `query`.
std::optional<std::vector<QueryParam>> ParseQuery(std::string_view query);

}  // namespace pixelmill::fixture
