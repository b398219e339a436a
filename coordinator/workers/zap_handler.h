// ZapHandler: the ZeroMQ authentication (ZAP, RFC 27) handler that admits remote workers by
// their CURVE public key, from a folder of certificates (--allow-workers DIR).
//
// It binds inproc://zeromq.zap.01 in the dispatcher's context and must be started before any
// socket of that context binds with a ZAP domain: libzmq lets a CURVE peer in unauthenticated
// when no handler answers. It answers on a thread of its own (a handshake waits for it, so it
// never waits for the event loop), re-reads the folder when it changes, and keeps each refusal
// (key fingerprint and address, once per pair) for the loop to report.
//
// Peers that fail before ZAP is asked (a plain-TCP worker, a CURVE one with the wrong server
// key) are seen on the worker socket's monitor (zmq_socket_monitor with kHandshakeEvents,
// given to Start): each accepted tcp connection's address is noted, and a protocol failure is a
// refusal, without a key, of the next of them to disconnect: once per address, as the event
// does not say which connection failed. The address is read when the accept is reported: best
// effort, as the connection may be gone by then.
//
//   Result<std::unique_ptr<ZapHandler>> zap = ZapHandler::Start(context, "/etc/pixelmill/workers");
//   ... bind with ZMQ_ZAP_DOMAIN kZapDomain ...
//   for (const ZapRefusal& r : (*zap)->TakeRefusals()) Report(r);
//
// Thread-safe.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "common/base/status.h"

namespace pixelmill {

inline constexpr char kZapDomain[] = "pixelmill";
// What the worker socket's monitor must publish for the handshake failures above.
inline constexpr int kHandshakeEvents =
    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;

struct ZapRefusal {
  std::string fingerprint;  // KeyFingerprint of the refused key, or "" for a non-CURVE peer
  std::string address;      // the peer's IP address
  std::string reason;
};

class ZapHandler {
 public:
  // Reads `allow_dir` (an error if it is not a readable folder of valid certificates) and starts
  // answering; with `monitor` (an inproc endpoint where the worker socket's monitor publishes
  // kHandshakeEvents) it also watches handshakes. `context` must outlive the handler.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   std::filesystem::path allow_dir,
                                                   const std::string& monitor = "");
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Whether `public_key` (Z85) is admitted now: a key removed from the folder is not.
  bool Admitted(const std::string& public_key) const;
  // Refusals since the last call, each (fingerprint, address) pair reported once a run.
  std::vector<ZapRefusal> TakeRefusals();
  // Re-reads the folder now (it is also re-read when its modification time changes); on error
  // the previous list stays and the error is returned.
  Status Reload();

 private:
  ZapHandler(zmq::context_t& context, std::filesystem::path allow_dir);
  void Run();
  void Answer(std::vector<zmq::message_t>& request);
  void ReloadIfChanged();
  void OnMonitorEvent();
  // Keeps a refusal for TakeRefusals, once per (key fingerprint, address): a peer without a key
  // once per address.
  void Refuse(const std::string& fingerprint, const std::string& address, const std::string& why);

  const std::filesystem::path allow_dir_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;  // PAIR from the worker socket's monitor, or none
  // The handler thread's own: tcp peers by file descriptor since accepted, and why the last
  // handshake failed (its disconnection comes next).
  std::unordered_map<int, std::string> peers_;
  bool failed_ = false;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::filesystem::file_time_type seen_mtime_{};
  mutable std::mutex mu_;
  std::map<std::string, std::string> admitted_;  // public key -> certificate name; guarded
  std::vector<ZapRefusal> refusals_;             // guarded
  // (fingerprint, address) pairs reported, at most kMaxReported; beyond, refusals are counted
  // in unlisted_ and reported as one line per TakeRefusals. Guarded.
  static constexpr size_t kMaxReported = 1024;
  std::set<std::pair<std::string, std::string>> reported_;
  uint64_t unlisted_ = 0;
};

}  // namespace pixelmill
