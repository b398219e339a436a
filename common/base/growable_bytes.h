// GrowableBytes: a byte buffer that grows as a download body arrives and gives its memory back
// to the system when it is freed. Small buffers live on the heap; from kMapBytes on, the bytes
// are in their own anonymous mapping, grown with mremap (the kernel moves page tables: no copy,
// no old and new copy held at once) and unmapped when freed. A heap of growing multi-MB strings
// fragments and keeps freed bytes in the process (peak RSS well above the bytes really held);
// a mapping never does.
//
// Capacity is address space: only the pages written to are memory, so a mapping grows ahead of
// the data in doubling steps for free. Move-only; not thread-safe (like std::string), may be
// moved between threads and freed on any. Linux (mremap).
#pragma once

#include <cstddef>

namespace pixelmill {

class GrowableBytes {
 public:
  // From this capacity on the bytes are mapped rather than on the heap.
  static constexpr size_t kMapBytes = 128 * 1024;

  GrowableBytes() = default;
  GrowableBytes(GrowableBytes&& other) noexcept;
  GrowableBytes& operator=(GrowableBytes&& other) noexcept;
  GrowableBytes(const GrowableBytes&) = delete;
  GrowableBytes& operator=(const GrowableBytes&) = delete;
  ~GrowableBytes() { Free(); }

  const char* data() const { return data_ != nullptr ? data_ : ""; }
  size_t size() const { return size_; }
  // Bytes that fit without growing.
  size_t capacity() const { return capacity_; }
  bool mapped() const { return mapped_; }

  // Makes room for at least `capacity` bytes in all. Throws std::bad_alloc when the system has
  // no memory (as std::string would).
  void Reserve(size_t capacity);
  // Appends `n` bytes, growing as needed.
  void Append(const char* bytes, size_t n);
  // Gives the room past size() back to the system (without copying when mapped).
  void ShrinkToFit();
  // Frees every byte.
  void Clear() { Free(); }

 private:
  void Free();
  void Resize(size_t capacity);  // REQUIRES: capacity >= size_

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool mapped_ = false;
};

}  // namespace pixelmill
