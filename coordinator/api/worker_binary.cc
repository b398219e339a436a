// FindWorkerBinary(): the places a `worker` executable is looked for, in order.
#include "coordinator/api/worker_binary.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#if !defined(PIXELMILL_INSTALLED_WORKER) || !defined(PIXELMILL_LIB_TO_BIN)
#error "the build defines PIXELMILL_INSTALLED_WORKER and PIXELMILL_LIB_TO_BIN"
#endif

namespace pixelmill {
namespace {

namespace fs = std::filesystem;

// A regular file we may run (a folder named "worker", as tests/worker/, is not one).
bool IsRunnable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::string BesideProgram() {
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate :
       {exe.parent_path() / "worker", exe.parent_path().parent_path() / "worker" / "worker"}) {
    if (IsRunnable(candidate)) return candidate.string();
  }
  return {};
}

std::string BesideLibrary() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&BesideLibrary), &info) != 0 && info.dli_fname != nullptr) {
    std::error_code ec;
    const fs::path lib = fs::canonical(info.dli_fname, ec);
    if (!ec) {
      const fs::path candidate =
          (lib.parent_path() / PIXELMILL_LIB_TO_BIN / "worker").lexically_normal();
      if (IsRunnable(candidate)) return candidate.string();
    }
  }
  if (IsRunnable(PIXELMILL_INSTALLED_WORKER)) return PIXELMILL_INSTALLED_WORKER;
  return {};
}

}  // namespace

std::string FindWorkerBinary(WorkerSearch search) {
  if (search == WorkerSearch::kBesideProgram) {
    if (std::string found = BesideProgram(); !found.empty()) return found;
  }
  return BesideLibrary();
}

std::string WorkerSearchText() {
  return "looked beside the library and at " PIXELMILL_INSTALLED_WORKER;
}

}  // namespace pixelmill
