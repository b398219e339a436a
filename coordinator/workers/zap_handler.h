// ZapHandler: the ZeroMQ authentication (ZAP, RFC 27) handler that admits remote workers by
// their CURVE public key, from a folder of certificates (--allow-workers DIR).
//
// It binds inproc://zeromq.zap.01 in the dispatcher's context and must be started before any
// socket of that context binds with a ZAP domain: libzmq lets a CURVE peer in unauthenticated
// when no handler answers. It answers on a thread of its own (a handshake waits for it, so it
// never waits for the event loop), re-reads the folder when it changes, and keeps each refusal
// (key fingerprint and address, once per pair) for the loop to report.
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
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "common/base/status.h"

namespace pixelmill {

inline constexpr char kZapDomain[] = "pixelmill";

struct ZapRefusal {
  std::string fingerprint;  // KeyFingerprint of the refused key, or "" for a non-CURVE peer
  std::string address;      // the peer's IP address
  std::string reason;
};

class ZapHandler {
 public:
  // Reads `allow_dir` (an error if it is not a readable folder of valid certificates) and starts
  // answering. `context` must outlive the handler.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   std::filesystem::path allow_dir);
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

  const std::filesystem::path allow_dir_;
  zmq::socket_t socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::filesystem::file_time_type seen_mtime_{};
  mutable std::mutex mu_;
  std::map<std::string, std::string> admitted_;  // public key -> certificate name; guarded
  std::vector<ZapRefusal> refusals_;             // guarded
  std::set<std::pair<std::string, std::string>> reported_;  // guarded
};

}  // namespace pixelmill
