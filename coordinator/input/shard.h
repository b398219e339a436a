// Where a user belongs, by its id alone, the same on every machine and build: the shard of an
// input split over several coordinators (--shard K/N), and the subfolder of its image in a
// fanned-out output folder (OutputLayout). Both come from IdHash, FNV-1a 64 of the id as the
// input writes it (an integer's decimal digits, a string id's string: user_id.h), never std::hash,
// through MurmurHash3's 64-bit finaliser (FNV-1a alone mixes short keys poorly: shards of
// sequential ids came out 4 % off).
//
//   h                 = fmix64(IdHash(id))
//   shard of id in N  = floor(h * N / 2^64)   (h's high bits: each shard its fair part, any N)
//   subfolder of id   = "ab/cd", h's two lowest bytes in hex (65,536 folders, independent of
//                       the shard: each shard fills all of them)
//
// Values; pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "coordinator/input/user_id.h"

namespace pixelmill {

// The shard (0..count-1) of `id` when an input is split in `count`. REQUIRES: count >= 1.
uint32_t ShardOf(UserId id, uint32_t count);

// "ab/cd": the two-level subfolder of `id`'s image in a fanned-out images/ folder.
std::string FanOutFolder(UserId id);

// Shard `index` of `count`; {0, 1} is the whole input.
struct Shard {
  static constexpr uint32_t kMaxCount = 65536;

  uint32_t index = 0;
  uint32_t count = 1;

  bool whole() const { return count == 1; }
  bool Holds(UserId id) const { return whole() || ShardOf(id, count) == index; }
  // Bad input records are not placed by id (many have none): they are all shard 0's, which
  // lists them in its rejects.jsonl; the other shards skip them unreported.
  bool TakesBadRecords() const { return index == 0; }
  // "K/N", as --shard takes it.
  std::string Text() const;
  bool operator==(const Shard& other) const { return index == other.index && count == other.count; }
};

// Parses --shard's "K/N" (0 <= K < N <= kMaxCount); "" is the whole input. Code kUsage with
// what is wrong.
Result<Shard> ParseShard(std::string_view text);

}  // namespace pixelmill
