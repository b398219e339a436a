#include "common/image/image_buffer.h"

#include <memory>
#include <utility>

namespace pixelmill {

ImageBuffer ImageBuffer::FromString(std::string bytes) {
  ImageBuffer b;
  b.bytes_ = std::move(bytes);
  return b;
}

ImageBuffer ImageBuffer::FromBytes(GrowableBytes bytes) {
  ImageBuffer b;
  b.bytes_ = std::move(bytes);
  return b;
}

ImageBuffer ImageBuffer::FromMessage(zmq::message_t message) {
  ImageBuffer b;
  b.bytes_ = std::move(message);
  return b;
}

ImageBuffer ImageBuffer::Adopt(void* data, size_t size, FreeFn free_fn) {
  ImageBuffer b;
  b.bytes_ = Block{data, size, free_fn};
  return b;
}

ImageBuffer::ImageBuffer(ImageBuffer&& other) noexcept
    : bytes_(std::exchange(other.bytes_, std::monostate{})),
      format_(other.format_),
      lease_(std::move(other.lease_)) {}

ImageBuffer& ImageBuffer::operator=(ImageBuffer&& other) noexcept {
  if (this != &other) {
    Reset();
    bytes_ = std::exchange(other.bytes_, std::monostate{});
    format_ = other.format_;
    lease_ = std::move(other.lease_);
  }
  return *this;
}

ImageBuffer::~ImageBuffer() { Reset(); }

void ImageBuffer::Reset() {
  if (auto* block = std::get_if<Block>(&bytes_); block != nullptr && block->free_fn != nullptr) {
    block->free_fn(block->data);
  }
  bytes_ = std::monostate{};
  lease_.Reset();
}

const char* ImageBuffer::data() const {
  if (const auto* s = std::get_if<std::string>(&bytes_)) return s->data();
  if (const auto* g = std::get_if<GrowableBytes>(&bytes_)) return g->data();
  if (const auto* m = std::get_if<zmq::message_t>(&bytes_)) {
    return static_cast<const char*>(m->data());
  }
  if (const auto* b = std::get_if<Block>(&bytes_)) return static_cast<const char*>(b->data);
  return "";
}

size_t ImageBuffer::size() const {
  if (const auto* s = std::get_if<std::string>(&bytes_)) return s->size();
  if (const auto* g = std::get_if<GrowableBytes>(&bytes_)) return g->size();
  if (const auto* m = std::get_if<zmq::message_t>(&bytes_)) return m->size();
  if (const auto* b = std::get_if<Block>(&bytes_)) return b->size;
  return 0;
}

zmq::message_t ImageBuffer::ToMessage() && {
  if (auto* m = std::get_if<zmq::message_t>(&bytes_); m != nullptr && lease_.bytes() == 0) {
    zmq::message_t out = std::move(*m);
    bytes_ = std::monostate{};
    return out;
  }
  if (size() == 0) {
    Reset();
    return zmq::message_t();
  }
  // The frame keeps this whole buffer (bytes and lease) alive until ZeroMQ frees it,
  // possibly on its I/O thread.
  auto holder = std::make_unique<ImageBuffer>(std::move(*this));
  void* data = const_cast<char*>(holder->data());
  const size_t size = holder->size();
  zmq::message_t frame(
      data, size,
      [](void*, void* hint) { std::unique_ptr<ImageBuffer>(static_cast<ImageBuffer*>(hint)); },
      holder.get());
  holder.release();
  return frame;
}

}  // namespace pixelmill
