// IdIndex: an open-addressing hash map from user id (int64) to a 64-bit value (a line number,
// a store index), used for duplicate detection while loading and id lookups on resume.
//
// One flat array of 16-byte slots at load factor <= 1/2 (linear probing): no node per entry.
// Values must be < 2^64 - 1. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace pixelmill {

class IdIndex {
 public:
  explicit IdIndex(size_t expected = 0);

  // Inserts id -> value and returns nullopt if id is absent; otherwise leaves the map
  // unchanged and returns the existing value.
  std::optional<uint64_t> InsertOrFind(int64_t id, uint64_t value);
  // Makes room for `count` ids without rehashing.
  void Reserve(size_t count);
  // Starts loading the slot where `id` would live into the cache.
  void Prefetch(int64_t id) const { __builtin_prefetch(&slots_[Home(id)]); }
  // id's value, if present.
  std::optional<uint64_t> Find(int64_t id) const;

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    int64_t id;
    uint64_t value_plus_one;  // 0 marks an empty slot
  };

  size_t Home(int64_t id) const;
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;  // size is a power of two
  size_t size_ = 0;
};

}  // namespace pixelmill
