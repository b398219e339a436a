// HeldRedirect: an HTTP server on an ephemeral loopback port, on a thread of its own, that holds
// each request until a condition of the test holds and then redirects it (302) to a real URL.
// It proves an order of events without measuring time: "this download stayed on the wire until
// that happened". The condition is polled every 10 ms for at most `max_hold_s` (counted from the
// first request), a hang detector only: past it, requests get a 503. released() tells whether the
// first request was answered because the condition held while its client still waited (a client
// that gave up and came back is no proof). Requests are served one at a time, each on its own
// connection (Connection: close).
// Header-only. The condition runs on the server's thread; the destructor joins it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "tests/support/child_process.h"

namespace pixelmill::testing {

class HeldRedirect {
 public:
  // Redirects every request to `target` once `release()` holds.
  HeldRedirect(std::string target, std::function<bool()> release, double max_hold_s = 60)
      : target_(std::move(target)), release_(std::move(release)), max_hold_s_(max_hold_s) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  HeldRedirect(const HeldRedirect&) = delete;
  HeldRedirect& operator=(const HeldRedirect&) = delete;
  ~HeldRedirect() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
  }

  bool ok() const { return port_ > 0; }
  // "http://127.0.0.1:PORT" + path.
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Requests answered so far, and whether the first was released by the condition.
  int requests() const { return requests_; }
  bool released() const { return released_; }

 private:
  // Waits for `fd` to be readable, up to 50 ms; false when stopping.
  bool Readable(int fd) const {
    pollfd item{fd, POLLIN, 0};
    return !stop_ && ::poll(&item, 1, 50) == 1;
  }

  // True once the client has closed its end (or reset the connection).
  static bool ClientGone(int client) {
    pollfd item{client, POLLIN, 0};
    char byte;
    return ::poll(&item, 1, 0) == 1 && ::recv(client, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
  }

  void Serve() {
    std::chrono::steady_clock::time_point first{};
    while (!stop_) {
      if (!Readable(listener_)) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos && Readable(client)) {
        const ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      if (requests_ == 0) first = std::chrono::steady_clock::now();
      const double left =
          max_hold_s_ -
          std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
      bool gone = false;  // the client closed its end: it gave up waiting
      const bool release = WaitFor(
          [&] { return stop_ || (gone = ClientGone(client)) || release_(); }, left > 0 ? left : 0);
      if (requests_ == 0) released_ = release && !stop_ && !gone;
      const std::string response =
          release ? "HTTP/1.1 302 Found\r\nLocation: " + target_ +
                        "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                  : std::string(
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
      (void)::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::shutdown(client, SHUT_WR);
      ::close(client);
      ++requests_;
    }
  }

  const std::string target_;
  const std::function<bool()> release_;
  const double max_hold_s_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<bool> released_{false};
  std::thread thread_;
};

}  // namespace pixelmill::testing
