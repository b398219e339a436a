// FNV-1a, 64 bits: the one stable hash of bytes in pixelmill (the same value on every build,
// machine and run, unlike std::hash). It identifies inputs (run.json) and places users in shards
// and output subfolders (coordinator/input/shard.h).
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace pixelmill {

inline constexpr uint64_t kFnv1aBasis = 0xcbf29ce484222325ULL;

// FNV-1a 64 of `bytes`, continuing from `hash` (kFnv1aBasis to start).
constexpr uint64_t Fnv1a(std::string_view bytes, uint64_t hash = kFnv1aBasis) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace pixelmill
