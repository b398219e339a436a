// The wire protocol codec: the one place ZeroMQ frames become protocol structs and back
// (proto/pixelmill.proto; frames, versions and limits: proto/README.md). Every message is one
// Envelope frame, optionally followed by one payload frame with raw image bytes.
//
// Decoding untrusted frames never throws and never aborts: a bad message is a Status with code
// kMalformed and a reason, so the caller counts and drops it. Stateless; any thread (sockets
// themselves belong to one thread each).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/base/status.h"
#include "common/image/image_format.h"
#include "pixelmill.pb.h"

namespace pixelmill {

namespace proto = ::pixelmill::v1;

inline constexpr size_t kMaxEnvelopeBytes = 64 * 1024;
// Longest Hello.worker_id a coordinator accepts (a worker refuses a longer --id at start).
inline constexpr size_t kMaxWorkerIdBytes = 256;
// Frames in one message beyond which we stop reading it (ROUTER identity + envelope + payload).
inline constexpr size_t kMaxFrames = 4;

// Who sends the message: decides which envelope bodies are acceptable.
enum class Sender { kCoordinator, kWorker };

struct Message {
  proto::Envelope envelope;
  zmq::message_t payload;  // empty unless has_payload
  bool has_payload = false;
};

// Decodes one message's frames (the ROUTER identity frame already removed). Checks the frame
// count, the envelope's size and encoding, that a body is set and is one `sender` may send,
// that a payload comes exactly with Job and with a successful Result, and its size.
Result<Message> DecodeMessage(std::vector<zmq::message_t>& frames, Sender sender,
                              size_t max_payload_bytes);

zmq::message_t EncodeEnvelope(const proto::Envelope& envelope);

// Receives the frames of one message without blocking: false when none is waiting. A message
// with more than kMaxFrames frames is read to its end and returned as kMaxFrames + 1 frames
// (so DecodeMessage refuses it). Calls interrupted by a signal are repeated. Throws only
// zmq::error_t for socket errors other than EAGAIN and EINTR.
bool ReceiveFrames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames);

// ZMQ_EVENTS of `socket` (re-arms its edge-triggered ZMQ_FD), repeated if a signal interrupts.
int SocketEvents(zmq::socket_t& socket);

// Sends envelope (+ payload) without blocking; prefix frames (a ROUTER identity) go first.
// Returns false if the socket would block or the peer is unroutable (EHOSTUNREACH).
bool SendMessage(zmq::socket_t& socket, const zmq::message_t* identity,
                 const proto::Envelope& envelope, zmq::message_t* payload);

// The process at the other end of the ipc:// connection `frame` came through, as the kernel
// reports it (SO_PEERCRED: ZeroMQ's "Peer-Address" property of a frame received over ipc:// is
// "localhost:UID:GID:PID"), or 0 for a frame that came over TCP or whose sender is unknown.
// Unlike the pid a Hello states, a peer cannot choose it.
uint32_t IpcPeerPid(const zmq::message_t& frame);

// The wire's output format and ours (IMAGE_FORMAT_UNSPECIFIED <-> kUnknown: keep the input's).
OutputFormat FromWire(proto::ImageFormat format);
proto::ImageFormat ToWire(OutputFormat format);

// "hello", "job", ... for logs and counters.
const char* BodyName(const proto::Envelope& envelope);

}  // namespace pixelmill
