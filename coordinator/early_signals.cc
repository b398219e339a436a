#include "coordinator/early_signals.h"

#include <signal.h>

#include <initializer_list>

namespace pixelmill {
namespace {

volatile sig_atomic_t g_first_signal = 0;

void Record(int signum) {
  if (g_first_signal == 0) g_first_signal = signum;
}

}  // namespace

void RecordEarlySignals() {
  struct sigaction action {};
  action.sa_handler = &Record;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) sigaction(signum, &action, nullptr);
}

int EarlySignal() { return g_first_signal; }

}  // namespace pixelmill
