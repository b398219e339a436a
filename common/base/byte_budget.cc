#include "common/base/byte_budget.h"

#include <cassert>
#include <charconv>
#include <utility>

namespace pixelmill {

std::optional<ByteLease> ByteBudget::TryTake(uint64_t bytes) {
  ByteLease lease(this);
  if (!lease.TryGrow(bytes)) return std::nullopt;
  return lease;
}

ByteLease ByteBudget::Take(uint64_t bytes) {
  ByteLease lease(this);
  lease.Grow(bytes);
  return lease;
}

bool ByteBudget::TryAdd(uint64_t bytes, uint64_t own) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used != own && (used + bytes > limit_ || used + bytes < used)) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  NotePeak(used + bytes);
  return true;
}

void ByteBudget::Add(uint64_t bytes) {
  NotePeak(used_.fetch_add(bytes, std::memory_order_relaxed) + bytes);
}

void ByteBudget::Sub(uint64_t bytes) {
  [[maybe_unused]] const uint64_t before = used_.fetch_sub(bytes, std::memory_order_relaxed);
  assert(before >= bytes);
}

void ByteBudget::NotePeak(uint64_t used) {
  uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (used > peak && !peak_.compare_exchange_weak(peak, used, std::memory_order_relaxed)) {
  }
}

ByteLease::ByteLease(ByteLease&& other) noexcept
    : budget_(other.budget_), bytes_(std::exchange(other.bytes_, 0)) {}

ByteLease& ByteLease::operator=(ByteLease&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = other.budget_;
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool ByteLease::TryGrow(uint64_t more) {
  if (more == 0) return true;
  if (budget_ != nullptr && !budget_->TryAdd(more, bytes_)) return false;
  bytes_ += more;
  return true;
}

void ByteLease::Grow(uint64_t more) {
  if (budget_ != nullptr && more > 0) budget_->Add(more);
  bytes_ += more;
}

void ByteLease::Shrink(uint64_t to) {
  assert(to <= bytes_);
  if (budget_ != nullptr && bytes_ > to) budget_->Sub(bytes_ - to);
  bytes_ = to;
}

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  int shift = 0;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      default:
        break;
    }
  }
  if (shift > 0) text.remove_suffix(1);
  // A whole part and an optional fraction ("1.5G"), each at least one digit.
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(whole.data(), whole.data() + whole.size(), value);
  if (whole.empty() || error != std::errc() || end != whole.data() + whole.size()) {
    return std::nullopt;
  }
  if (dot != std::string_view::npos &&
      (fraction.empty() || fraction.find_first_not_of("0123456789") != std::string_view::npos)) {
    return std::nullopt;
  }
  if (value > (UINT64_MAX >> shift)) return std::nullopt;
  // The fraction's bytes, rounded down; nine digits are finer than one byte of a G.
  uint64_t digits = 0, scale = 1;
  for (size_t i = 0; i < fraction.size() && i < 9; ++i) {
    digits = digits * 10 + static_cast<uint64_t>(fraction[i] - '0');
    scale *= 10;
  }
  const uint64_t bytes = (value << shift) + (digits << shift) / scale;
  if (bytes == 0) return std::nullopt;
  return bytes;
}

}  // namespace pixelmill
