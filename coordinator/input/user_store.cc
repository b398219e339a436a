#include "coordinator/input/user_store.h"

#include <cassert>
#include <cstring>
#include <limits>

namespace pixelmill {

size_t UserStore::Add(UserId id, std::string_view name, std::string_view image_url) {
  assert(name.size() <= std::numeric_limits<uint32_t>::max());
  assert(image_url.size() <= std::numeric_limits<uint32_t>::max());
  assert(id.text.size() <= kMaxStringIdBytes);
  const uint64_t offset = arena_.size();
  arena_.insert(arena_.end(), id.text.begin(), id.text.end());
  arena_.insert(arena_.end(), name.begin(), name.end());
  arena_.insert(arena_.end(), image_url.begin(), image_url.end());
  keys_.push_back(IdKey(id));
  records_.push_back(Record{offset, id.text.size(), static_cast<uint32_t>(name.size()),
                            static_cast<uint32_t>(image_url.size())});
  outcomes_.push_back(0);
  return keys_.size() - 1;
}

UserId UserStore::id(size_t index) const {
  const Record& r = records_[index];
  if (r.id_size == 0) return UserId(static_cast<int64_t>(keys_[index]));
  return UserId::String(std::string_view(arena_.data() + r.arena_offset, r.id_size));
}

void UserStore::PopBack() {
  assert(!keys_.empty());
  arena_.resize(records_.back().arena_offset);
  keys_.pop_back();
  records_.pop_back();
  outcomes_.pop_back();
}

void UserStore::RemoveSorted(const std::vector<size_t>& indices) {
  if (indices.empty()) return;
  size_t write = indices.front();
  uint64_t arena_write = records_[write].arena_offset;
  size_t next_drop = 0;
  for (size_t read = write; read < keys_.size(); ++read) {
    if (next_drop < indices.size() && indices[next_drop] == read) {
      ++next_drop;
      continue;
    }
    Record record = records_[read];
    const size_t bytes = size_t{record.id_size} + record.name_size + record.url_size;
    std::memmove(arena_.data() + arena_write, arena_.data() + record.arena_offset, bytes);
    record.arena_offset = arena_write;
    arena_write += bytes;
    keys_[write] = keys_[read];
    records_[write] = record;
    outcomes_[write] = outcomes_[read];
    ++write;
  }
  keys_.resize(write);
  records_.resize(write);
  outcomes_.resize(write);
  arena_.resize(arena_write);
}

void UserStore::Reserve(size_t users, size_t string_bytes) {
  keys_.reserve(users);
  records_.reserve(users);
  outcomes_.reserve(users);
  arena_.reserve(string_bytes);
}

namespace {

// Reallocates only when more than 1/32 of the capacity is spare: a close Reserve() estimate is
// kept rather than copied.
template <typename V>
void ShrinkIfLoose(V& v) {
  if (v.capacity() - v.size() > v.capacity() / 32) v.shrink_to_fit();
}

}  // namespace

void UserStore::ShrinkToFit() {
  ShrinkIfLoose(keys_);
  ShrinkIfLoose(records_);
  ShrinkIfLoose(outcomes_);
  ShrinkIfLoose(arena_);
}

UserView UserStore::Get(size_t index) const {
  const Record& r = records_[index];
  const char* base = arena_.data() + r.arena_offset + r.id_size;
  return UserView{id(index), std::string_view(base, r.name_size),
                  std::string_view(base + r.name_size, r.url_size)};
}

void UserStore::SetOutcome(size_t index, UserStatus status, OutputFormat format) {
  outcomes_[index] =
      static_cast<uint8_t>(static_cast<uint8_t>(status) | (static_cast<uint8_t>(format) << 4));
}

size_t UserStore::MemoryBytes() const {
  return keys_.capacity() * sizeof(uint64_t) + records_.capacity() * sizeof(Record) +
         outcomes_.capacity() * sizeof(uint8_t) + arena_.capacity();
}

}  // namespace pixelmill
