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

size_t IdIndex::Home(uint64_t key) const { return Mix(key) & (slots_.size() - 1); }

void IdIndex::Rehash(size_t capacity) {
  std::vector<Slot> old(capacity, Slot{0, 0});
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.value_plus_one == 0) continue;
    size_t i = Home(s.key);
    while (slots_[i].value_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace pixelmill
