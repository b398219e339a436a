#include "common/wire/protocol.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <string_view>

namespace pixelmill {
namespace {

// A signal (SIGCHLD from a worker exiting, say) can interrupt any ZeroMQ call; cppzmq throws
// EINTR like any other error. Nothing was sent or received then, so the call is simply repeated.
template <typename Call>
auto RetryOnSignal(Call call) {
  while (true) {
    try {
      return call();
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
}

Status Malformed(std::string why) { return Status::Error(Code::kMalformed, std::move(why)); }

bool AllowedFrom(proto::Envelope::BodyCase body, Sender sender) {
  using E = proto::Envelope;
  if (sender == Sender::kWorker) {
    return body == E::kHello || body == E::kResult || body == E::kHeartbeat || body == E::kLeave;
  }
  return body == E::kWelcome || body == E::kReject || body == E::kJob || body == E::kHeartbeat ||
         body == E::kShutdown;
}

bool CarriesPayload(const proto::Envelope& e) {
  return e.has_job() || (e.has_result() && !e.result().has_error());
}

}  // namespace

Result<Message> DecodeMessage(std::vector<zmq::message_t>& frames, Sender sender,
                              size_t max_payload_bytes) {
  if (frames.empty() || frames.size() > 2) {
    return Malformed("expected 1 or 2 frames, got " + std::to_string(frames.size()));
  }
  zmq::message_t& head = frames[0];
  if (head.size() > kMaxEnvelopeBytes) {
    return Malformed("envelope of " + std::to_string(head.size()) + " bytes is over the limit");
  }
  Message m;
  if (!m.envelope.ParseFromArray(head.data(), static_cast<int>(head.size()))) {
    return Malformed("envelope is not a valid protobuf message");
  }
  if (m.envelope.body_case() == proto::Envelope::BODY_NOT_SET) {
    return Malformed("envelope has no body (an unknown message type?)");
  }
  if (!AllowedFrom(m.envelope.body_case(), sender)) {
    return Malformed(std::string("a ") + BodyName(m.envelope) + " message from the wrong side");
  }
  const bool expects = CarriesPayload(m.envelope);
  if (expects != (frames.size() == 2)) {
    return Malformed(
        std::string(BodyName(m.envelope)) +
        (expects ? " without its payload frame" : " with an unexpected payload frame"));
  }
  if (expects) {
    if (frames[1].size() > max_payload_bytes) {
      return Malformed("payload of " + std::to_string(frames[1].size()) +
                       " bytes is over the limit of " + std::to_string(max_payload_bytes));
    }
    m.payload = std::move(frames[1]);
    m.has_payload = true;
  }
  return m;
}

zmq::message_t EncodeEnvelope(const proto::Envelope& envelope) {
  zmq::message_t frame(envelope.ByteSizeLong());
  envelope.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(frame.data()));
  return frame;
}

bool ReceiveFrames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
  frames.clear();
  zmq::message_t frame;
  const auto receive = [&](zmq::recv_flags flags) {
    return RetryOnSignal([&] { return socket.recv(frame, flags); });
  };
  if (!receive(zmq::recv_flags::dontwait)) return false;
  while (true) {
    const bool more = frame.more();
    if (frames.size() <= kMaxFrames) frames.push_back(std::move(frame));
    if (!more) return true;
    // The rest of a multipart message is already here (ZeroMQ delivers messages whole).
    if (!receive(zmq::recv_flags::none)) return true;
  }
}

int SocketEvents(zmq::socket_t& socket) {
  return RetryOnSignal([&] { return socket.get(zmq::sockopt::events); });
}

bool SendMessage(zmq::socket_t& socket, const zmq::message_t* identity,
                 const proto::Envelope& envelope, zmq::message_t* payload) {
  try {
    const auto send = [&](zmq::message_t& frame, zmq::send_flags flags) {
      return RetryOnSignal([&] { return socket.send(frame, flags).has_value(); });
    };
    if (identity != nullptr) {
      zmq::message_t id(identity->data(), identity->size());
      if (!send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    }
    zmq::message_t head = EncodeEnvelope(envelope);
    const auto flags = payload != nullptr ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                          : zmq::send_flags::dontwait;
    if (!send(head, flags)) return false;
    if (payload != nullptr && !send(*payload, zmq::send_flags::dontwait)) return false;
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return false;
    throw;
  }
}

uint32_t IpcPeerPid(const zmq::message_t& frame) {
  const char* address = zmq_msg_gets(frame.handle(), "Peer-Address");
  if (address == nullptr) return 0;
  // A TCP peer's address is numeric (127.0.0.1, ::1): only a Unix socket's reads "localhost".
  constexpr std::string_view kUnix = "localhost:";
  const std::string_view text(address);
  if (!text.starts_with(kUnix)) return 0;
  std::string_view fields = text.substr(kUnix.size());  // UID:GID:PID
  uint64_t values[3] = {};
  for (uint64_t& value : values) {
    const size_t colon = std::min(fields.find(':'), fields.size());
    const std::string_view field = fields.substr(0, colon);
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || ec != std::errc() || end != field.data() + field.size()) return 0;
    fields.remove_prefix(std::min(colon + 1, fields.size()));
  }
  return values[2] > 0 && values[2] <= UINT32_MAX ? static_cast<uint32_t>(values[2]) : 0;
}

const char* BodyName(const proto::Envelope& envelope) {
  switch (envelope.body_case()) {
    case proto::Envelope::kHello:
      return "hello";
    case proto::Envelope::kWelcome:
      return "welcome";
    case proto::Envelope::kReject:
      return "reject";
    case proto::Envelope::kJob:
      return "job";
    case proto::Envelope::kResult:
      return "result";
    case proto::Envelope::kHeartbeat:
      return "heartbeat";
    case proto::Envelope::kShutdown:
      return "shutdown";
    case proto::Envelope::kLeave:
      return "leave";
    case proto::Envelope::BODY_NOT_SET:
      break;
  }
  return "empty";
}

OutputFormat FromWire(proto::ImageFormat format) {
  switch (format) {
    case proto::IMAGE_FORMAT_JPEG:
      return OutputFormat::kJpeg;
    case proto::IMAGE_FORMAT_PNG:
      return OutputFormat::kPng;
    case proto::IMAGE_FORMAT_WEBP:
      return OutputFormat::kWebp;
    default:
      return OutputFormat::kUnknown;
  }
}

proto::ImageFormat ToWire(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJpeg:
      return proto::IMAGE_FORMAT_JPEG;
    case OutputFormat::kPng:
      return proto::IMAGE_FORMAT_PNG;
    case OutputFormat::kWebp:
      return proto::IMAGE_FORMAT_WEBP;
    default:
      return proto::IMAGE_FORMAT_UNSPECIFIED;
  }
}

}  // namespace pixelmill
