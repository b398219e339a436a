#include "coordinator/input/stream_source.h"

#include <algorithm>
#include <utility>

namespace pixelmill {
namespace {

// The bytes between the read position of `in` and its end, or 0 when it cannot seek. Leaves the
// stream as it found it.
uint64_t BytesLeft(std::istream& in) {
  const std::ios::iostate state = in.rdstate();
  const std::istream::pos_type at = in.tellg();
  uint64_t left = 0;
  if (at != std::istream::pos_type(-1) && in.seekg(0, std::ios::end)) {
    const std::istream::pos_type end = in.tellg();
    if (end != std::istream::pos_type(-1) && end >= at) left = static_cast<uint64_t>(end - at);
  }
  in.clear(state);
  if (at != std::istream::pos_type(-1)) in.seekg(at);
  in.clear(state);
  return left;
}

}  // namespace

StreamSource::StreamSource(std::istream& in, std::string name, size_t kept_bytes)
    : in_(in), name_(std::move(name)), kept_bytes_(kept_bytes), size_hint_(BytesLeft(in)) {}

Result<size_t> StreamSource::Read(char* dst, size_t n, const std::function<bool()>& stop) {
  if (in_.bad()) return Status::Error(Code::kIo, "cannot read the input stream");
  size_t done = 0;
  while (done < n && in_.good()) {
    if (stop && stop()) {
      return Status::Error(Code::kInterrupted, "reading " + name_ + " was interrupted");
    }
    in_.read(dst + done, static_cast<std::streamsize>(n - done));
    const auto got = static_cast<size_t>(in_.gcount());
    if (in_.bad()) return Status::Error(Code::kIo, "cannot read the input stream");
    Keep(std::string_view(dst + done, got));
    done += got;
  }
  return done;
}

std::string_view StreamSource::tail() const {
  const std::string_view all = tail_;
  return all.substr(all.size() - std::min(all.size(), kept_bytes_));
}

void StreamSource::Keep(std::string_view bytes) {
  bytes_read_ += bytes.size();
  if (head_.size() < kept_bytes_) {
    head_.append(bytes.substr(0, kept_bytes_ - head_.size()));
  }
  if (bytes.size() >= kept_bytes_) {
    tail_.assign(bytes.substr(bytes.size() - kept_bytes_));
    return;
  }
  tail_.append(bytes);
  // Trimmed only past twice the kept length, so each byte is moved a bounded number of times.
  if (tail_.size() > 2 * kept_bytes_) tail_.erase(0, tail_.size() - kept_bytes_);
}

}  // namespace pixelmill
