#include "coordinator/workers/bind_check.h"

#include <cerrno>

#include <zmq.hpp>

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

}  // namespace pixelmill
