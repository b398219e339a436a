// Where the `worker` executable is when none is named (RunOptions::worker_binary empty): the one
// lookup of the command and the library. Never a PATH search: any executable named "worker"
// earlier on PATH would be run. Any thread.
#pragma once

#include <string>

namespace pixelmill {

enum class WorkerSearch {
  // bin/worker of the prefix libpixelmill sits in (so a relocated install works), else the
  // installed path baked in at build time (CMAKE_INSTALL_PREFIX/bin/worker).
  kBesideLibrary,
  // First beside the running program (an install's bin/) or, in a build tree, its
  // ../worker/worker; then as kBesideLibrary. For the `coordinator` command.
  kBesideProgram,
};

// The executable found, or "" when none is there.
std::string FindWorkerBinary(WorkerSearch search);

// Where kBesideLibrary looked, for the message when nothing was found.
std::string WorkerSearchText();

}  // namespace pixelmill
