// HttpServer: the single-threaded libuv HTTP/1.1 server behind the image API fixture
// (image-api), used by tests, the demo and load tests of the downloader.
//
// Owns the listening socket, the Planner (fault injection state) and every Connection. The
// ImageBank and the PhotoBank (if any) are borrowed and must outlive the server; the photo
// bank encodes on the loop thread the first time a (photo, size, format) is asked for. Close()
// closes the listener and all connections; the loop then returns once their close callbacks ran,
// after which the server may be destroyed. All methods run on the loop's thread; nothing here
// starts a thread.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "tests/support/connection.h"
#include "tests/support/fault_plan.h"
#include "tests/support/image_bank.h"
#include "tests/support/photo_bank.h"

namespace pixelmill::fixture {

struct ServerOptions {
  uint64_t latency_ms = 0;  // default delay before every response
  uint64_t jitter_ms = 0;   // plus up to this many ms, drawn per response
  bool verbose = false;     // one line per request on stderr
  bool control = false;     // GET /control and /stats (server_profile.h)
  bool photos = false;      // serve photos unless ?images=gradients (needs a PhotoBank)
  int backlog = 4096;       // listen(2) backlog; the kernel caps it at net.core.somaxconn
  // "Name: value" every image request must carry (else 401), and a header name no request may
  // carry (else 400): a client's --header reached this server, or did not.
  std::string require_header;
  std::string refuse_header;
};

class HttpServer {
 public:
  // `photos` may be null: then ?images=photos gets a 404.
  // REQUIRES: options.photos only with a `photos` bank.
  HttpServer(uv_loop_t& loop, const ImageBank& bank, PhotoBank* photos, ServerOptions options);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // REQUIRES: never listened, or Close() was called and the loop has run until it returned.
  ~HttpServer();

  // Binds `address` and starts accepting. Returns 0 or a libuv error code.
  int Listen(const sockaddr& address);
  // The bound port. REQUIRES: Listen() returned 0.
  int port() const { return port_; }
  // Stops accepting and closes every connection. Safe to call more than once.
  void Close();

 private:
  friend class Connection;

  static void OnConnection(uv_stream_t* listener, int status);
  static void OnListenerClosed(uv_handle_t* handle);

  // Called by a connection from its last close callback; frees it.
  void Forget(Connection* connection);
  // One line per request on stderr when verbose.
  void Log(const Request& request, int status, std::string_view note) const;
  // 401 when `request` lacks options_.require_header, 400 when it carries refuse_header, with
  // the body saying which (never a value); nullopt when it may be served.
  std::optional<std::pair<int, std::string>> HeaderRefusal(const Request& request) const;

  uv_loop_t& loop_;
  const ImageBank& bank_;
  PhotoBank* photos_;  // null: gradients only
  ServerOptions options_;
  Planner planner_;
  uv_tcp_t listener_{};
  bool listener_open_ = false;
  bool closing_ = false;
  int port_ = 0;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  // Every read lands here: callbacks consume the bytes before the next read on this thread.
  std::array<char, 64 * 1024> read_buffer_{};
};

}  // namespace pixelmill::fixture
