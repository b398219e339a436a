#include "coordinator/input/id_index.h"

#include <algorithm>
#include <bit>

namespace pixelmill {
namespace {

constexpr size_t kMinCapacity = 16;

// splitmix64 finaliser: sequential ids spread over all slots.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

IdIndex::IdIndex(size_t expected) { Rehash(std::bit_ceil(std::max(kMinCapacity, expected * 2))); }

void IdIndex::Reserve(size_t count) {
  if (count * 2 > slots_.size()) Rehash(std::bit_ceil(count * 2));
}

size_t IdIndex::Home(int64_t id) const {
  return Mix(static_cast<uint64_t>(id)) & (slots_.size() - 1);
}

std::optional<uint64_t> IdIndex::InsertOrFind(int64_t id, uint64_t value) {
  if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(id);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.value_plus_one == 0) {
      s = Slot{id, value + 1};
      ++size_;
      return std::nullopt;
    }
    if (s.id == id) return s.value_plus_one - 1;
  }
}

std::optional<uint64_t> IdIndex::Find(int64_t id) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(id);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.value_plus_one == 0) return std::nullopt;
    if (s.id == id) return s.value_plus_one - 1;
  }
}

void IdIndex::Rehash(size_t capacity) {
  std::vector<Slot> old(capacity, Slot{0, 0});
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.value_plus_one == 0) continue;
    size_t i = Home(s.id);
    while (slots_[i].value_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace pixelmill
