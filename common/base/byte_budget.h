// ByteBudget: the run's one memory bound (--max-memory). Every image byte the coordinator holds
// (a body being downloaded, a downloaded image waiting for a worker or the disk, a result frame)
// is counted against it through a ByteLease, from its first byte until it is freed.
//
// TryTake/TryGrow grant bytes only if they fit under the limit, or when nothing else is held
// (so one image larger than the whole budget still runs, alone, and nothing deadlocks). Take and
// Grow always succeed: they count bytes that already exist (a result frame received).
//
// The counters are atomic: a lease may be released on any thread (ZeroMQ frees zero-copy frames
// on its I/O thread). Granting decisions are made by the loop thread. The budget must outlive
// every lease taken from it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pixelmill {

class ByteLease;

class ByteBudget {
 public:
  explicit ByteBudget(uint64_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  // The most ever held at once.
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  bool full() const { return used() >= limit_; }

  // `bytes` if they fit (or the budget is empty); nullopt otherwise.
  std::optional<ByteLease> TryTake(uint64_t bytes);
  // `bytes`, whether they fit or not.
  ByteLease Take(uint64_t bytes);

 private:
  friend class ByteLease;
  // Adds `bytes` if used + bytes <= limit or used == `own` (the caller holds all there is).
  bool TryAdd(uint64_t bytes, uint64_t own);
  void Add(uint64_t bytes);
  void Sub(uint64_t bytes);
  void NotePeak(uint64_t used);

  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> peak_{0};
};

// Bytes held against a budget, given back when the lease is destroyed (or Reset). Move-only;
// two words. A lease of no budget (nullptr) counts its bytes and grows without limit, so code
// runs the same with or without --max-memory.
class ByteLease {
 public:
  ByteLease() = default;
  explicit ByteLease(ByteBudget* budget) : budget_(budget) {}
  ByteLease(ByteLease&& other) noexcept;
  ByteLease& operator=(ByteLease&& other) noexcept;
  ByteLease(const ByteLease&) = delete;
  ByteLease& operator=(const ByteLease&) = delete;
  ~ByteLease() { Reset(); }

  ByteBudget* budget() const { return budget_; }
  uint64_t bytes() const { return bytes_; }

  // Adds `more` if it fits, or if this lease holds all the budget's bytes.
  [[nodiscard]] bool TryGrow(uint64_t more);
  // Adds `more`, whether it fits or not.
  void Grow(uint64_t more);
  // Gives back all but `to` bytes. REQUIRES: to <= bytes().
  void Shrink(uint64_t to);
  // Gives every byte back; the lease stays bound to its budget.
  void Reset() { Shrink(0); }

 private:
  ByteBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

// A byte count as given on a command line: digits with an optional decimal fraction, optionally
// followed by K, M or G (1024-based, either case), rounded down to whole bytes, e.g. "1048576",
// "512M", "2G", "1.5G" (1.5 * 1024^3). nullopt for anything else, 0, or an overflow.
std::optional<uint64_t> ParseByteSize(std::string_view text);

}  // namespace pixelmill
