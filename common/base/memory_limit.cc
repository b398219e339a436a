#include "common/base/memory_limit.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string_view>

#include "common/base/string_printf.h"

namespace pixelmill {
namespace {

// MemAvailable in bytes, if the kernel reports it.
std::optional<uint64_t> MemAvailable() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// Address space left under RLIMIT_AS, if there is such a limit.
std::optional<uint64_t> AddressSpaceLeft() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  const uint64_t used = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return limit.rlim_cur > used ? limit.rlim_cur - used : 0;
}

}  // namespace

MemoryLimit LoadingMemoryLimit() {
  const std::optional<uint64_t> available = MemAvailable();
  const std::optional<uint64_t> left = AddressSpaceLeft();
  MemoryLimit out;
  if (left && (!available || *left < *available)) {
    out.bytes = *left / 4 * 3;
    out.why = "3/4 of the address space left under RLIMIT_AS (" + HumanBytes(*left) + ")";
  } else if (available) {
    out.bytes = *available / 4 * 3;
    out.why = "3/4 of MemAvailable (" + HumanBytes(*available) + ")";
  }
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes >= (1ull << 30))
    return StringPrintf("%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  if (bytes >= (1ull << 20)) {
    return StringPrintf("%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  }
  return StringPrintf("%llu bytes", static_cast<unsigned long long>(bytes));
}

}  // namespace pixelmill
