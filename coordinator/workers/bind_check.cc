#include "coordinator/workers/bind_check.h"

#include <cerrno>
#include <map>

#include <zmq.hpp>

#include "common/wire/curve_keys.h"

namespace pixelmill {

Status CheckBindable(const std::string& endpoint) {
  try {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(endpoint);
    return Status::Ok();  // the socket, then the context, close here
  } catch (const zmq::error_t& e) {
    std::string hint;
    if (e.num() == ENODEV) {
      hint =
          " (a tcp:// endpoint takes an IP address or an interface name, not a host name: "
          "e.g. tcp://127.0.0.1:5555 or tcp://0.0.0.0:5555)";
    } else if (e.num() == EADDRINUSE) {
      hint = " (another process listens there: choose another port)";
    } else if (e.num() == EINVAL || e.num() == EPROTONOSUPPORT) {
      hint = " (an endpoint looks like tcp://ADDRESS:PORT)";
    }
    return Status::Error(Code::kBind,
                         "--bind " + endpoint + ": cannot listen for workers: " + e.what() + hint);
  }
}

Status CheckWorkerKeys(const std::string& curve_secret, const std::string& allow_workers) {
  Result<CurveKeyPair> keys = ReadSecretCertificate(curve_secret);
  if (!keys.ok()) return keys.status().WithPrefix("--curve-secret: ");
  Result<std::map<std::string, std::string>> admitted = ReadAllowList(allow_workers);
  if (!admitted.ok()) return admitted.status();
  return Status::Ok();
}

}  // namespace pixelmill
