// IdIndex: an open-addressing hash map from a user id to a 64-bit value (a line number, a store
// index), used for duplicate detection while loading and id lookups on resume.
//
// It holds each id's 64-bit key (IdKey) and its value, not the id: the caller's `same(value)`
// says whether the id behind a value with an equal key is the one sought (an integer id's key is
// the id; it tells apart string ids, and a string id from an integer, whose keys collide). One flat
// array of 16-byte slots at load factor <= 1/2 (linear probing): no node per entry. Values must be
// < 2^64 - 1. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace pixelmill {

class IdIndex {
 public:
  explicit IdIndex(size_t expected = 0);

  // Inserts key -> value and returns nullopt unless a value with `key` is there whose id is the
  // same (`same(existing value)`); then leaves the map unchanged and returns that value.
  template <typename Same>
  std::optional<uint64_t> InsertOrFind(uint64_t key, uint64_t value, const Same& same);
  // Makes room for `count` ids without rehashing.
  void Reserve(size_t count);
  // Starts loading the slot where `key` would live into the cache.
  void Prefetch(uint64_t key) const { __builtin_prefetch(&slots_[Home(key)]); }
  // The value of the id with `key` for which `same(value)`, if present.
  template <typename Same>
  std::optional<uint64_t> Find(uint64_t key, const Same& same) const;

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key;
    uint64_t value_plus_one;  // 0 marks an empty slot
  };

  size_t Home(uint64_t key) const;
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;  // size is a power of two
  size_t size_ = 0;
};

template <typename Same>
std::optional<uint64_t> IdIndex::InsertOrFind(uint64_t key, uint64_t value, const Same& same) {
  if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(key);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.value_plus_one == 0) {
      s = Slot{key, value + 1};
      ++size_;
      return std::nullopt;
    }
    if (s.key == key && same(s.value_plus_one - 1)) return s.value_plus_one - 1;
  }
}

template <typename Same>
std::optional<uint64_t> IdIndex::Find(uint64_t key, const Same& same) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(key);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.value_plus_one == 0) return std::nullopt;
    if (s.key == key && same(s.value_plus_one - 1)) return s.value_plus_one - 1;
  }
}

}  // namespace pixelmill
