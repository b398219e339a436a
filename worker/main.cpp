// worker: runs filter jobs for a coordinator over ZeroMQ. Flags only; WorkerLoop does the work.
#include <malloc.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/base/version.h"
#include "common/filters/filter.h"
#include "common/wire/protocol.h"
#include "worker/host_supervisor.h"
#include "worker/stop_signal.h"
#include "worker/worker_loop.h"

namespace {

// AddressSanitizer reserves terabytes of address space for its shadow memory, so a capped
// sanitizer build could not even start: there the cap is skipped (with a note).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define PIXELMILL_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(PIXELMILL_SANITIZED)
constexpr bool kCanCapAddressSpace = false;
#else
constexpr bool kCanCapAddressSpace = true;
#endif

pixelmill::Status CapAddressSpace(uint64_t megabytes) {
  if (!kCanCapAddressSpace) {
    std::fprintf(stderr, "worker: address space cap skipped in a sanitizer build\n");
    return pixelmill::Status::Ok();
  }
  if (megabytes > (uint64_t{1} << 40)) megabytes = uint64_t{1} << 40;  // 1 EiB: no wrap-around
  const rlim_t bytes = static_cast<rlim_t>(megabytes) << 20;
  rlimit limit{bytes, bytes};
  if (::setrlimit(RLIMIT_AS, &limit) != 0) {
    return pixelmill::Status::Error(pixelmill::Code::kLimit, "cannot cap the address space at " +
                                                                 std::to_string(megabytes) +
                                                                 " MB: " + std::strerror(errno));
  }
  return pixelmill::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  pixelmill::worker::Options options;
  CLI::App app{
      "pixelmill worker: runs filter jobs for a coordinator.\n"
      "Exit codes: 0 after Shutdown or a warm shutdown (SIGTERM); 1 after Reject, on a fatal\n"
      "error, a second SIGTERM, or when a --local worker loses its coordinator; 2 usage."};
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
  const CLI::Validator id_check(
      [](std::string& id) {
        return id.size() <= pixelmill::kMaxWorkerIdBytes
                   ? std::string()
                   : "is " + std::to_string(id.size()) + " bytes, over the limit of " +
                         std::to_string(pixelmill::kMaxWorkerIdBytes);
      },
      "at most " + std::to_string(pixelmill::kMaxWorkerIdBytes) + " bytes");
  app.add_option("--id", options.worker_id, "worker id (default: <hostname>:<pid>:<random hex>)")
      ->check(id_check);
  std::string curve_secret, server_key;
  app.add_option("--curve-secret", curve_secret,
                 "this worker's secret certificate (FILE, mode 0600, from pixelmill-keygen): "
                 "CurveZMQ to a coordinator with --curve-secret; needs --server-key")
      ->type_name("FILE");
  app.add_option("--server-key", server_key,
                 "the coordinator's public certificate (FILE, its NAME.key)")
      ->type_name("FILE");
  app.add_flag("--keep-running", options.keep_running,
               "stay up after a run ends and serve the coordinator's next run (a standing "
               "worker host)");
  double grace_s = 10;
  app.add_option("--grace", grace_s,
                 "after SIGTERM, seconds to finish the jobs being run (the queued ones go back "
                 "at once); a second signal stops at once")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  unsigned processes = 1;
  app.add_option("--processes", processes,
                 "start and supervise N worker processes (restarted with backoff when one "
                 "crashes); the flag alone: one per hardware thread")
      ->expected(0, 1)
      ->default_str("0")
      ->check(CLI::Range(0u, 1024u));
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "info, or debug: also print libvips' warnings about damaged images (each "
                 "result counts them either way)")
      ->check(CLI::IsMember({"debug", "info"}))
      ->capture_default_str();
  uint64_t address_space_mb = 0;
  app.add_option("--max-address-space-mb", address_space_mb,
                 "cap this process's address space (RLIMIT_AS), so a decoder that runs away "
                 "kills only this worker's current job; 0 = no cap, else at least " +
                     std::to_string(pixelmill::kMinWorkerAddressSpaceMb))
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) {
            // Not a number: the conversion after this check says so.
            const bool number =
                !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
            return !number || text == "0" ||
                           std::strtoull(text.c_str(), nullptr, 10) >=
                               pixelmill::kMinWorkerAddressSpaceMb
                       ? std::string()
                       : "is below the minimum of " +
                             std::to_string(pixelmill::kMinWorkerAddressSpaceMb) +
                             " a worker needs to start";
          },
          "0 or MB >= " + std::to_string(pixelmill::kMinWorkerAddressSpaceMb)));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  options.debug = log_level == "debug";
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
  if (processes == 0) processes = std::max(1u, std::thread::hardware_concurrency());
  if (processes > 1 && options.local) {
    std::fprintf(stderr, "worker: error: --processes is for worker hosts, not --local workers\n");
    return 2;
  }
  if (curve_secret.empty() != server_key.empty()) {
    std::fprintf(stderr,
                 "worker: error: CurveZMQ needs both --curve-secret FILE (this worker's "
                 "secret certificate) and --server-key FILE (the coordinator's public one)\n");
    return 2;
  }
  if (!curve_secret.empty()) {
    if (options.endpoint.rfind("tcp://", 0) != 0) {
      std::fprintf(stderr, "worker: error: --curve-secret is for a tcp:// --connect\n");
      return 2;
    }
    pixelmill::Result<pixelmill::CurveKeyPair> own = pixelmill::ReadSecretCertificate(curve_secret);
    pixelmill::Result<std::string> server = pixelmill::ReadPublicCertificate(server_key);
    const pixelmill::Status bad = !own.ok()      ? own.status().WithPrefix("--curve-secret: ")
                                  : !server.ok() ? server.status().WithPrefix("--server-key: ")
                                                 : pixelmill::Status::Ok();
    if (!bad.ok()) {
      std::fprintf(stderr, "worker: error: %s\n", bad.message().c_str());
      return bad.code() == pixelmill::Code::kUsage ? 2 : 1;
    }
    options.curve = std::move(own).value();
    options.server_key = std::move(server).value();
  }
  // Two malloc arenas: measured flattest over 10,000 images (scripts/bench.sh filters_memory),
  // lower than glibc's default (8 per core) and than jemalloc.
  ::mallopt(M_ARENA_MAX, 2);
  if (address_space_mb > 0) {
    if (pixelmill::Status s = CapAddressSpace(address_space_mb); !s.ok()) {
      std::fprintf(stderr, "worker: error: %s\n", s.message().c_str());
      return 1;
    }
  }
  if (processes > 1) {
    // The same command line for each, without --processes (and its value).
    std::vector<std::string> argv_child;
    for (int i = 0; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg.rfind("--processes=", 0) == 0) continue;
      if (arg == "--processes") {
        if (i + 1 < argc && argv[i + 1][0] != '-') ++i;
        continue;
      }
      argv_child.push_back(arg);
    }
    return pixelmill::worker::SuperviseProcesses(argv_child, processes);
  }
  pixelmill::worker::InstallStopHandlers(options.local);
  if (pixelmill::Status s = pixelmill::InitFilters(); !s.ok()) {
    std::fprintf(stderr, "worker: error: %s\n", s.message().c_str());
    return 1;
  }
  pixelmill::worker::WorkerLoop loop(std::move(options));
  const int code = loop.Run();
  // The compute thread may be inside a filter that cannot be interrupted (spin:10000); the
  // sockets are closed, so end the process now instead of waiting for it.
  std::fflush(nullptr);
  std::_Exit(code);
}
