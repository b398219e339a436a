#include "coordinator/workers/zap_handler.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "common/wire/curve_keys.h"

namespace pixelmill {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr int kPollMs = 250;  // how soon a stop or a changed folder is noticed

std::string Text(const zmq::message_t& m) { return std::string(m.data<char>(), m.size()); }

// The IP address of a tcp connection's peer, "" for another kind or a closed descriptor.
std::string PeerAddress(int fd) {
  sockaddr_storage peer{};
  socklen_t size = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0) return "";
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, std::filesystem::path allow_dir)
    : allow_dir_(std::move(allow_dir)), socket_(context, zmq::socket_type::rep) {}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      std::filesystem::path allow_dir,
                                                      const std::string& monitor) {
  std::unique_ptr<ZapHandler> handler(new ZapHandler(context, std::move(allow_dir)));
  if (Status s = handler->Reload(); !s.ok()) return s;
  try {
    handler->socket_.set(zmq::sockopt::linger, 0);
    handler->socket_.bind(kZapEndpoint);
    if (!monitor.empty()) {
      handler->monitor_ = zmq::socket_t(context, zmq::socket_type::pair);
      handler->monitor_.set(zmq::sockopt::linger, 0);
      handler->monitor_.connect(monitor);
    }
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kBind, "cannot start the worker authenticator (" +
                                          std::string(kZapEndpoint) + "): " + e.what());
  }
  handler->thread_ = std::thread([h = handler.get()] { h->Run(); });
  return handler;
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool ZapHandler::Admitted(const std::string& public_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return admitted_.count(public_key) != 0;
}

std::vector<ZapRefusal> ZapHandler::TakeRefusals() {
  std::lock_guard<std::mutex> lock(mu_);
  if (unlisted_ > 0) {
    refusals_.push_back({"", "many addresses",
                         std::to_string(unlisted_) +
                             " more refusals of new keys or addresses, not "
                             "listed (over " +
                             std::to_string(kMaxReported) + " distinct ones this run)"});
    unlisted_ = 0;
  }
  return std::exchange(refusals_, {});
}

namespace {

// The newest modification time of the folder and its entries: adding, removing or renaming a
// certificate changes the folder's, rewriting one in place only its own.
std::filesystem::file_time_type FolderStamp(const std::filesystem::path& dir, std::error_code& ec) {
  std::filesystem::file_time_type newest = std::filesystem::last_write_time(dir, ec);
  if (ec) return newest;
  std::error_code entry_ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, entry_ec)) {
    const auto mtime = std::filesystem::last_write_time(entry.path(), entry_ec);
    if (!entry_ec) newest = std::max(newest, mtime);
  }
  return newest;
}

}  // namespace

Status ZapHandler::Reload() {
  std::error_code ec;
  const auto mtime = FolderStamp(allow_dir_, ec);
  Result<std::map<std::string, std::string>> keys = ReadAllowList(allow_dir_);
  if (!keys.ok()) return keys.status();
  std::lock_guard<std::mutex> lock(mu_);
  admitted_ = std::move(keys).value();
  if (!ec) seen_mtime_ = mtime;
  return Status::Ok();
}

void ZapHandler::ReloadIfChanged() {
  std::error_code ec;
  const auto mtime = FolderStamp(allow_dir_, ec);
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = !ec && mtime != seen_mtime_;
  }
  if (changed) (void)Reload();  // a half-written folder keeps the last good list
}

void ZapHandler::Run() {
  zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                             {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
  const size_t count = monitor_.handle() != nullptr ? 2 : 1;
  auto next_check = std::chrono::steady_clock::now();
  while (!stop_) {
    try {
      const int ready = zmq::poll(items, count, std::chrono::milliseconds(kPollMs));
      // On time even while peers keep knocking: a revoked key must not wait for a quiet spell.
      if (const auto now = std::chrono::steady_clock::now(); now >= next_check) {
        ReloadIfChanged();
        next_check = now + std::chrono::milliseconds(kPollMs);
      }
      if (ready == 0) continue;
      if (count == 2 && (items[1].revents & ZMQ_POLLIN)) OnMonitorEvent();
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> request;
      do {
        request.emplace_back();
        if (!socket_.recv(request.back(), zmq::recv_flags::dontwait)) break;
      } while (request.back().more());
      Answer(request);
    } catch (const zmq::error_t&) {
      return;  // the context is ending
    }
  }
}

// RFC 27: version, request id, domain, address, identity, mechanism, credentials; the reply:
// version, request id, status code, status text, user id (the key, which later messages carry
// as their "User-Id" property), metadata.
void ZapHandler::Refuse(const std::string& fingerprint, const std::string& address,
                        const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reported_.size() >= kMaxReported) {
    // A peer with a fresh key (or address) each time: counted, not listed.
    if (reported_.count({fingerprint, address}) == 0) ++unlisted_;
    return;
  }
  if (reported_.emplace(fingerprint, address).second) {
    refusals_.push_back({fingerprint, address, why});
  }
}

// Monitor events (libzmq 4.3, version 1): a frame of the event (16 bits) and its value (32:
// a file descriptor, or a protocol error code), then a frame of the socket's endpoint.
void ZapHandler::OnMonitorEvent() {
  zmq::message_t head, endpoint;
  while (monitor_.recv(head, zmq::recv_flags::dontwait)) {
    if (head.more()) (void)monitor_.recv(endpoint, zmq::recv_flags::dontwait);
    if (head.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, head.data(), sizeof event);
    std::memcpy(&value, head.data<char>() + 2, sizeof value);
    const int fd = static_cast<int>(value);
    if (event == ZMQ_EVENT_ACCEPTED) {
      if (std::string address = PeerAddress(fd); !address.empty()) peers_[fd] = address;
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
      failed_ = true;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      auto it = peers_.find(fd);
      if (it != peers_.end()) {
        // Which connection failed is not in the event, and another may close in between (ZMTP
        // sends an ERROR before closing): the reason names both causes.
        if (failed_) {
          Refuse("", it->second,
                 "failed the CurveZMQ handshake: it speaks plain TCP (give it --curve-secret "
                 "and --server-key), or its --server-key is not this coordinator's public key");
        }
        peers_.erase(it);
      }
      failed_ = false;
    }
  }
}

void ZapHandler::Answer(std::vector<zmq::message_t>& request) {
  std::string code = "400", text, user_id;
  std::string mechanism, address, key;
  if (request.size() >= 6 && Text(request[0]) == "1.0") {
    address = Text(request[3]);
    mechanism = Text(request[5]);
  }
  if (mechanism == "CURVE" && request.size() == 7 && request[6].size() == 32) {
    std::array<char, 41> z85{};
    zmq_z85_encode(z85.data(), request[6].data<uint8_t>(), 32);
    key = z85.data();
    if (Admitted(key)) {
      code = "200";
      text = "OK";
      user_id = key;
    } else {
      text = "key not in --allow-workers";
    }
  } else {
    text = "not a CURVE peer (" + (mechanism.empty() ? std::string("malformed") : mechanism) + ")";
  }
  if (code != "200") Refuse(key.empty() ? std::string() : KeyFingerprint(key), address, text);
  const std::string version = "1.0";
  const std::string request_id = request.size() >= 2 ? Text(request[1]) : std::string();
  socket_.send(zmq::buffer(version), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(code), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(text), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(user_id), zmq::send_flags::sndmore);
  socket_.send(zmq::str_buffer(""), zmq::send_flags::none);
}

}  // namespace pixelmill
