#include "common/base/growable_bytes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace pixelmill {
namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t RoundToPages(size_t bytes) {
  const size_t page = PageSize();
  return (bytes + page - 1) / page * page;
}

char* Map(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(p);
}

}  // namespace

GrowableBytes::GrowableBytes(GrowableBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

GrowableBytes& GrowableBytes::operator=(GrowableBytes&& other) noexcept {
  if (this != &other) {
    Free();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

void GrowableBytes::Free() {
  if (data_ != nullptr) {
    if (mapped_) {
      munmap(data_, capacity_);
    } else {
      std::free(data_);
    }
  }
  data_ = nullptr;
  size_ = capacity_ = 0;
  mapped_ = false;
}

void GrowableBytes::Reserve(size_t capacity) {
  if (capacity <= capacity_) return;
  // A mapping grows ahead of the data for free (untouched pages are not memory): doubling keeps
  // the number of mremap calls logarithmic in the body's size.
  Resize(mapped_ ? std::max(capacity, 2 * capacity_) : capacity);
}

void GrowableBytes::Append(const char* bytes, size_t n) {
  if (n == 0) return;
  if (size_ + n > capacity_) Reserve(std::max(size_ + n, capacity_ + capacity_ / 2));
  std::memcpy(data_ + size_, bytes, n);
  size_ += n;
}

void GrowableBytes::ShrinkToFit() {
  if (size_ == 0) return Free();
  if (capacity_ > (mapped_ ? RoundToPages(size_) : size_)) Resize(size_);
}

void GrowableBytes::Resize(size_t capacity) {
  assert(capacity >= size_ && capacity > 0);
  if (capacity < kMapBytes && !mapped_) {
    void* p = std::realloc(data_, capacity);
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    capacity_ = capacity;
    return;
  }
  const size_t pages = RoundToPages(capacity);
  if (mapped_) {
    void* p = mremap(data_, capacity_, pages, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
  } else {
    // The heap's bytes move into a mapping once (at most kMapBytes of them).
    char* p = Map(pages);
    if (size_ > 0) std::memcpy(p, data_, size_);
    std::free(data_);
    data_ = p;
    mapped_ = true;
  }
  capacity_ = pages;
}

}  // namespace pixelmill
