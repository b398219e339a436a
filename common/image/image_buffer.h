// ImageBuffer: the one type image bytes travel in, from the first byte downloaded (or received
// from a peer, or encoded by libvips) until they are written to disk or dropped. Move-only, so
// bytes are never copied from owner to owner. It owns exactly one of: a std::string, a
// GrowableBytes (a download grows into one), a zmq::message_t (a frame received from a peer), or
// a block allocated by C code with its free function (libvips' encoded output, g_free). ToMessage()
// hands the bytes to ZeroMQ without a copy. It carries the image's format once known, and a
// ByteLease: the bytes it holds against the run's budget (--max-memory), given back when the bytes
// are freed (on whichever thread frees them; after ToMessage(), when ZeroMQ is done with the
// frame).
//
// Not thread-safe (like std::string); may be moved between threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <zmq.hpp>

#include "common/base/byte_budget.h"
#include "common/base/growable_bytes.h"
#include "common/image/image_format.h"

namespace pixelmill {

class ImageBuffer {
 public:
  using FreeFn = void (*)(void*);

  ImageBuffer() = default;
  static ImageBuffer FromString(std::string bytes);
  static ImageBuffer FromBytes(GrowableBytes bytes);
  static ImageBuffer FromMessage(zmq::message_t message);
  // Takes ownership of `size` bytes at `data`, later freed with `free_fn(data)`.
  static ImageBuffer Adopt(void* data, size_t size, FreeFn free_fn);

  ImageBuffer(ImageBuffer&& other) noexcept;
  ImageBuffer& operator=(ImageBuffer&& other) noexcept;
  ImageBuffer(const ImageBuffer&) = delete;
  ImageBuffer& operator=(const ImageBuffer&) = delete;
  ~ImageBuffer();  // frees the bytes, then gives the lease back

  const char* data() const;
  size_t size() const;
  bool empty() const { return size() == 0; }
  std::string_view view() const { return {data(), size()}; }

  OutputFormat format() const { return format_; }
  void set_format(OutputFormat format) { format_ = format; }

  // The budget these bytes are counted in, held until they are freed (destruction, assignment,
  // or after ToMessage() when ZeroMQ is done with them). Replaces a lease held before.
  void set_lease(ByteLease lease) { lease_ = std::move(lease); }
  const ByteLease& lease() const { return lease_; }

  // The bytes as a ZeroMQ frame without a copy; the frame owns them (and the lease) from now
  // on. Leaves this buffer empty.
  zmq::message_t ToMessage() &&;

 private:
  struct Block {
    void* data = nullptr;
    size_t size = 0;
    FreeFn free_fn = nullptr;
  };
  void Reset();

  std::variant<std::monostate, std::string, GrowableBytes, zmq::message_t, Block> bytes_;
  OutputFormat format_ = OutputFormat::kUnknown;
  ByteLease lease_;
};

}  // namespace pixelmill
