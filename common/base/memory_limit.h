// How much memory loading the input may take: a limit derived from what the machine and the
// process allow, so that a huge or endless input ends with a clear error instead of exhausting
// the machine. Reads /proc (Linux); any thread.
#pragma once

#include <cstdint>
#include <string>

namespace pixelmill {

struct MemoryLimit {
  uint64_t bytes = 0;  // 0: nothing known, no limit
  std::string why;     // how it was derived, for messages: "3/4 of MemAvailable (20.1 GiB)"
};

// 3/4 of the smaller of /proc/meminfo's MemAvailable and the address space this process has
// left under RLIMIT_AS (the limit less the current VmSize); the quarter is the margin for the
// rest of the run and for the allocator.
MemoryLimit LoadingMemoryLimit();

// "1.5 GiB", "640 MiB", "812 bytes" for messages.
std::string HumanBytes(uint64_t bytes);

}  // namespace pixelmill
