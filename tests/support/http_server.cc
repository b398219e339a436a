#include "tests/support/http_server.h"

#include <strings.h>

#include <cassert>
#include <cstdio>

namespace pixelmill::fixture {
namespace {

// "127.0.0.1:8080" or "[::1]:8080" for the bound address.
std::string AuthorityOf(const sockaddr_storage& address, int port) {
  char ip[64] = "";
  if (address.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&address), ip, sizeof(ip));
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&address), ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(port);
}

}  // namespace

HttpServer::HttpServer(uv_loop_t& loop, const ImageBank& bank, PhotoBank* photos,
                       ServerOptions options)
    : loop_(loop),
      bank_(bank),
      photos_(photos),
      options_(options),
      planner_(PlannerConfig{.latency_ms = options.latency_ms,
                             .authority = "127.0.0.1",
                             .jitter_ms = options.jitter_ms,
                             .photos = options.photos,
                             .photos_available = photos != nullptr,
                             .control = options.control}) {
  assert(photos != nullptr || !options.photos);
}

HttpServer::~HttpServer() {
  assert(connections_.empty());
  assert(!listener_open_);
}

int HttpServer::Listen(const sockaddr& address) {
  int rc = uv_tcp_init(&loop_, &listener_);
  if (rc != 0) return rc;
  listener_open_ = true;
  listener_.data = this;
  rc = uv_tcp_bind(&listener_, &address, 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), options_.backlog, OnConnection);
  if (rc != 0) return rc;
  sockaddr_storage bound{};
  int length = sizeof(bound);
  rc = uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  if (rc != 0) return rc;
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  planner_.set_authority(AuthorityOf(bound, port_));
  return 0;
}

void HttpServer::Close() {
  closing_ = true;
  auto* listener = reinterpret_cast<uv_handle_t*>(&listener_);
  if (listener_open_ && !uv_is_closing(listener)) uv_close(listener, OnListenerClosed);
  for (auto& [connection, owned] : connections_) connection->Close();
}

void HttpServer::OnListenerClosed(uv_handle_t* handle) {
  static_cast<HttpServer*>(handle->data)->listener_open_ = false;
}

void HttpServer::OnConnection(uv_stream_t* listener, int status) {
  auto& self = *static_cast<HttpServer*>(listener->data);
  if (status < 0) {
    if (self.options_.verbose) std::fprintf(stderr, "image-api: accept: %s\n", uv_strerror(status));
    return;
  }
  if (self.closing_) return;
  auto connection = std::make_unique<Connection>(self);
  Connection* raw = connection.get();
  self.connections_.emplace(raw, std::move(connection));
  raw->Accept(*listener);
}

void HttpServer::Forget(Connection* connection) { connections_.erase(connection); }

std::optional<std::pair<int, std::string>> HttpServer::HeaderRefusal(const Request& request) const {
  const auto has = [&request](std::string_view name, const std::string* value) {
    for (const auto& [n, v] : request.headers) {
      if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0 &&
          (value == nullptr || v == *value)) {
        return true;
      }
    }
    return false;
  };
  if (request.path.rfind("/img/", 0) != 0) return std::nullopt;  // /health, /control, /stats
  if (!options_.refuse_header.empty() && has(options_.refuse_header, nullptr)) {
    return std::pair(400, options_.refuse_header + " must not reach this server\n");
  }
  const std::string& required = options_.require_header;
  if (const size_t colon = required.find(':'); colon != std::string::npos) {
    const std::string name = required.substr(0, colon);
    const size_t start = required.find_first_not_of(' ', colon + 1);
    const std::string value = start == std::string::npos ? "" : required.substr(start);
    if (!has(name, &value)) return std::pair(401, name + " missing or wrong\n");
  }
  return std::nullopt;
}

void HttpServer::Log(const Request& request, int status, std::string_view note) const {
  if (!options_.verbose) return;
  std::fprintf(stderr, "image-api: %s %s -> %d%s%.*s\n",
               request.method.empty() ? "-" : request.method.c_str(),
               request.target.empty() ? "-" : request.target.c_str(), status,
               note.empty() ? "" : " ", static_cast<int>(note.size()), note.data());
}

}  // namespace pixelmill::fixture
