// HostSupervisor: `worker --processes N` on a worker host. Starts N worker processes (this
// executable again, with the same flags but --processes), restarts one that crashes or fails
// with backoff (1 s doubling to 60 s; back to 1 s after a minute of running), and passes a stop
// signal on: the first SIGTERM/SIGINT gives every worker its warm shutdown, a second stops them
// at once. Without --keep-running a worker that ends with 0 (its coordinator's run is over) is
// not restarted, and the supervisor exits 0 when all have; a usage error (2) ends them all.
#pragma once

#include <string>
#include <vector>

namespace pixelmill::worker {

// `argv`: a worker's command line without --processes (argv[0] is ignored: the worker is
// /proc/self/exe). Returns the supervisor's exit code.
int SuperviseProcesses(const std::vector<std::string>& argv, unsigned processes);

}  // namespace pixelmill::worker
