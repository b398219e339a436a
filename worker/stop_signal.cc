#include "worker/stop_signal.h"

#include <signal.h>

#include <atomic>

namespace pixelmill::worker {
namespace {

std::atomic<int> stop_requests{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");

void OnStopSignal(int) { stop_requests.fetch_add(1, std::memory_order_relaxed); }

void Handle(int signal, void (*handler)(int)) {
  struct sigaction action = {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked poll or wait returns to read the count
  sigaction(signal, &action, nullptr);
}

}  // namespace

void InstallStopHandlers(bool ignore_interrupt) {
  Handle(SIGTERM, OnStopSignal);
  Handle(SIGINT, ignore_interrupt ? SIG_IGN : OnStopSignal);
}

int StopRequests() { return stop_requests.load(std::memory_order_relaxed); }

}  // namespace pixelmill::worker
