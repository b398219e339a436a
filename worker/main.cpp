// worker: runs filter jobs for a coordinator over ZeroMQ.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "common/version.h"

int main(int argc, char** argv) {
  std::string endpoint;
  unsigned capacity = 2;
  CLI::App app{"pixelmill worker: decode, filter and encode images for a coordinator."};
  app.set_version_flag("--version", pixelmill::kVersion);
  app.add_option("--connect", endpoint, "coordinator endpoint, e.g. tcp://127.0.0.1:5555")
      ->required();
  app.add_option("--capacity", capacity, "jobs held at once")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // TODO(worker-pool issue): the job loop. Until then the worker only parses its flags.
  std::fprintf(stderr, "error: the worker job loop is not implemented yet\n");
  return 2;
}
