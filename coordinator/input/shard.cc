#include "coordinator/input/shard.h"

#include <charconv>
#include <cstdio>

namespace pixelmill {
namespace {

// MurmurHash3's 64-bit finaliser: every output bit depends on every input bit, so the shard
// (high bits) and the fan-out (low bits) are evenly spread and independent of each other.
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

bool ParseCount(std::string_view text, uint32_t& value) {
  if (text.empty() || text.size() > 6) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

uint32_t ShardOf(UserId id, uint32_t count) {
  __extension__ using Wide = unsigned __int128;  // GCC and Clang on 64-bit targets
  return static_cast<uint32_t>((static_cast<Wide>(Mix(IdHash(id))) * count) >> 64);
}

std::string FanOutFolder(UserId id) {
  const uint64_t h = Mix(IdHash(id));
  char folder[8];
  std::snprintf(folder, sizeof folder, "%02x/%02x", static_cast<unsigned>((h >> 8) & 0xff),
                static_cast<unsigned>(h & 0xff));
  return folder;
}

std::string Shard::Text() const { return std::to_string(index) + "/" + std::to_string(count); }

Result<Shard> ParseShard(std::string_view text) {
  if (text.empty()) return Shard{};
  const std::string shown = "--shard " + std::string(text);
  const size_t slash = text.find('/');
  Shard shard;
  if (slash == std::string_view::npos || !ParseCount(text.substr(0, slash), shard.index) ||
      !ParseCount(text.substr(slash + 1), shard.count)) {
    return Status::Error(Code::kUsage,
                         shown + ": expected K/N, this run's shard K of N (0 <= K < N), e.g. 0/4");
  }
  if (shard.count == 0 || shard.count > Shard::kMaxCount) {
    return Status::Error(Code::kUsage, shown + ": N is 1.." + std::to_string(Shard::kMaxCount));
  }
  if (shard.index >= shard.count) {
    return Status::Error(Code::kUsage, shown + ": K counts from 0, so it is 0.." +
                                           std::to_string(shard.count - 1) + " of " +
                                           std::to_string(shard.count) + " shards");
  }
  return shard;
}

}  // namespace pixelmill
