// worker: runs filter jobs for a coordinator over ZeroMQ. Flags only; WorkerLoop does the work.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "common/filter.h"
#include "common/version.h"
#include "worker/worker_loop.h"

int main(int argc, char** argv) {
  pixelmill::worker::Options options;
  CLI::App app{
      "pixelmill worker: runs filter jobs for a coordinator.\n"
      "Exit codes: 0 after Shutdown; 1 after Reject, on a fatal error, or when a --local\n"
      "worker loses its coordinator; 2 usage."};
  app.set_version_flag("--version", std::string(pixelmill::kVersion));
  const CLI::Validator endpoint_check(
      [](std::string& endpoint) {
        return endpoint.starts_with("tcp://") || endpoint.starts_with("ipc://")
                   ? std::string()
                   : "must start with tcp:// or ipc://";
      },
      "ENDPOINT");
  app.add_option("--connect", options.endpoint,
                 "coordinator endpoint, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/pixelmill.sock")
      ->required()
      ->check(endpoint_check);
  app.add_option("--capacity", options.capacity, "jobs held at once, running + queued")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_flag("--local", options.local,
               "spawned by a coordinator on this machine: die with it, and exit instead of "
               "reconnecting when it goes silent");
  app.add_option("--id", options.worker_id, "worker id (default: <hostname>:<pid>:<random hex>)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (pixelmill::Status s = pixelmill::InitFilters(); !s.ok()) {
    std::fprintf(stderr, "worker: %s\n", s.message().c_str());
    return 1;
  }
  pixelmill::worker::WorkerLoop loop(std::move(options));
  const int code = loop.Run();
  // The compute thread may be inside a filter that cannot be interrupted (spin:10000); the
  // sockets are closed, so end the process now instead of waiting for it.
  std::fflush(nullptr);
  std::_Exit(code);
}
