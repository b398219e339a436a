// CheckBindable and CheckWorkerKeys: --bind and its keys tried before the output folder is
// claimed, so a mistyped endpoint, a port in use or a bad key file is an error that leaves the
// folder as it was. Blocking; any thread.
#pragma once

#include <string>

#include "common/base/status.h"

namespace pixelmill {

// Binds `endpoint` with a throwaway ZeroMQ ROUTER socket and closes it again. Code kBind with
// a message saying what to change (an IP address instead of a host name, another port).
// TODO(race): the port is free again until the dispatcher binds it; another process may take
// it in between, which the dispatcher then reports the same way.
Status CheckBindable(const std::string& endpoint);

// Reads --curve-secret (refused when group or others can read it, or malformed: code kUsage)
// and --allow-workers (every NAME.key in it must be a valid certificate).
Status CheckWorkerKeys(const std::string& curve_secret, const std::string& allow_workers);

}  // namespace pixelmill
