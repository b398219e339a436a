#include "coordinator/early_signals.h"

#include <signal.h>

#include <initializer_list>

namespace pixelmill {
namespace {

volatile sig_atomic_t g_first_signal = 0;
volatile sig_atomic_t g_signals = 0;

void Record(int signum) {
  if (g_first_signal == 0) g_first_signal = signum;
  if (g_signals < 1000) g_signals = g_signals + 1;
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

int EarlySignalCount() { return g_signals; }

}  // namespace pixelmill
