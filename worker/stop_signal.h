// Stop requests by signal for the worker's main loops (WorkerLoop, HostSupervisor).
//
// SIGTERM and SIGINT are counted by an async-signal-safe handler installed without SA_RESTART,
// so a blocking poll or wait returns (EINTR) and the loop reads the count: 1 asks for a warm
// shutdown, 2 or more for stopping at once.
#pragma once

namespace pixelmill::worker {

// `ignore_interrupt`: a local worker ignores SIGINT (a Ctrl-C reaches the whole process group;
// its coordinator decides when it stops).
void InstallStopHandlers(bool ignore_interrupt);
// Signals received so far.
int StopRequests();

}  // namespace pixelmill::worker
