#include "coordinator/workers/zap_handler.h"

#include <array>
#include <chrono>
#include <system_error>

#include "common/wire/curve_keys.h"

namespace pixelmill {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr int kPollMs = 250;  // how soon a stop or a changed folder is noticed

std::string Text(const zmq::message_t& m) { return std::string(m.data<char>(), m.size()); }

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, std::filesystem::path allow_dir)
    : allow_dir_(std::move(allow_dir)), socket_(context, zmq::socket_type::rep) {}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      std::filesystem::path allow_dir) {
  std::unique_ptr<ZapHandler> handler(new ZapHandler(context, std::move(allow_dir)));
  if (Status s = handler->Reload(); !s.ok()) return s;
  try {
    handler->socket_.set(zmq::sockopt::linger, 0);
    handler->socket_.bind(kZapEndpoint);
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
  return std::exchange(refusals_, {});
}

Status ZapHandler::Reload() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(allow_dir_, ec);
  Result<std::map<std::string, std::string>> keys = ReadAllowList(allow_dir_);
  if (!keys.ok()) return keys.status();
  std::lock_guard<std::mutex> lock(mu_);
  admitted_ = std::move(keys).value();
  if (!ec) seen_mtime_ = mtime;
  return Status::Ok();
}

void ZapHandler::ReloadIfChanged() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(allow_dir_, ec);
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = !ec && mtime != seen_mtime_;
  }
  if (changed) (void)Reload();  // a half-written folder keeps the last good list
}

void ZapHandler::Run() {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  while (!stop_) {
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(kPollMs)) == 0) {
        ReloadIfChanged();
        continue;
      }
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
  if (code != "200") {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string fingerprint = key.empty() ? std::string() : KeyFingerprint(key);
    if (reported_.emplace(fingerprint, address).second) {
      refusals_.push_back({fingerprint, address, text});
    }
  }
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
