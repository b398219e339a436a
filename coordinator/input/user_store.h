// UserStore: a compact, append-only table of users (id, name, image_url) plus each user's
// outcome, for millions of users without a heap object per user.
//
// Layout (the C++ answer to Python's `slots=True`): each id's 64-bit key (IdKey: an integer id
// itself) lives in one contiguous array; a string id's bytes, the name and the URL live back to
// back in one arena; a 16-byte Record per user holds the arena offset and the three lengths; the
// outcome is one byte per user (status + output format), so the output path
// (OutputLayout::ImagePath) is derived from id and format, never stored. Per user that is 8
// (key) + 16 (record) + 1 (outcome) bytes plus the string bytes themselves.
//
// Views returned by Get() point into the arena and stay valid until the next Add() or
// ShrinkToFit(). Not thread-safe: one owner (the coordinator's loop thread) uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/image/image_format.h"
#include "coordinator/input/user_id.h"

namespace pixelmill {

enum class UserStatus : uint8_t { kPending = 0, kOk = 1, kFailed = 2, kSkipped = 3 };

struct UserView {
  UserId id;
  std::string_view name;
  std::string_view image_url;
};

class UserStore {
 public:
  // The fixed part of each user besides its id. Pinned: growing it costs 1 B/user per byte.
  struct Record {
    uint64_t arena_offset : 56;  // a string id's bytes, name bytes, then URL bytes
    uint64_t id_size : 8;        // 0 for an integer id
    uint32_t name_size;
    uint32_t url_size;
  };
  static_assert(sizeof(Record) == 16, "Record must stay 16 bytes");
  static_assert(kMaxStringIdBytes < 256, "a string id's size must fit Record::id_size");
  // Fixed bytes per user beyond the field bytes (the id's 8 bytes count as field bytes).
  static constexpr size_t kFixedOverheadPerUser = sizeof(Record) + sizeof(uint8_t);

  UserStore() = default;
  UserStore(const UserStore&) = delete;
  UserStore& operator=(const UserStore&) = delete;
  UserStore(UserStore&&) = default;
  UserStore& operator=(UserStore&&) = default;

  // Appends a user and returns its index. REQUIRES: name and url each < 4 GiB; a string id
  // passes StringIdProblem.
  size_t Add(UserId id, std::string_view name, std::string_view image_url);
  // Removes the most recently added user. REQUIRES: size() > 0.
  void PopBack();
  // Removes the users at `indices` (sorted, unique), keeping the others' order.
  void RemoveSorted(const std::vector<size_t>& indices);
  // Hints the expected totals so loading does not reallocate.
  void Reserve(size_t users, size_t string_bytes);
  // Releases spare capacity after loading (keeps up to 1/32 of a close estimate).
  void ShrinkToFit();

  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  UserId id(size_t index) const;
  // IdKey(id(index)), without touching the arena.
  uint64_t key(size_t index) const { return keys_[index]; }
  UserView Get(size_t index) const;

  UserStatus status(size_t index) const { return static_cast<UserStatus>(outcomes_[index] & 0x0f); }
  OutputFormat format(size_t index) const {
    return static_cast<OutputFormat>(outcomes_[index] >> 4);
  }
  void SetOutcome(size_t index, UserStatus status, OutputFormat format);

  // Bytes the store holds on the heap (capacities, not sizes: what the allocator gave us).
  size_t MemoryBytes() const;
  // Bytes of the fields themselves: 8 per id plus string id, name and URL bytes.
  size_t FieldBytes() const { return keys_.size() * sizeof(uint64_t) + arena_.size(); }

 private:
  std::vector<uint64_t> keys_;
  std::vector<Record> records_;
  std::vector<uint8_t> outcomes_;  // low nibble UserStatus, high nibble OutputFormat
  std::vector<char> arena_;
};

}  // namespace pixelmill
