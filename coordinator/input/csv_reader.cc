#include "coordinator/input/csv_reader.h"

#include <algorithm>
#include <cstring>

namespace pixelmill {
namespace {

// The end of the line at or after `pos` (its '\n', or len).
size_t LineEnd(const char* data, size_t len, size_t pos) {
  const void* nl = std::memchr(data + pos, '\n', len - pos);
  return nl == nullptr ? len : static_cast<size_t>(static_cast<const char*>(nl) - data);
}

size_t WithoutCr(const char* data, size_t begin, size_t end) {
  return end > begin && data[end - 1] == '\r' ? end - 1 : end;
}

}  // namespace

size_t CsvReader::Read(const char* data, size_t len, bool final, const RecordFn& on_record,
                       const std::function<bool()>& stop) {
  size_t pos = 0;
  while (pos < len) {
    const size_t start = pos;
    const uint64_t line = line_;
    if (!ReadRecord(data, len, pos, final)) {
      line_ = line;
      return start;
    }
    if (record_.problem.empty() &&
        record_.raw.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;  // a blank line
    }
    on_record(record_);
    if (stop && stop()) break;
  }
  return pos;
}

bool CsvReader::ReadRecord(const char* data, size_t len, size_t& pos, bool final) {
  const size_t start = pos;
  record_.line = line_;
  record_.problem.clear();
  record_.fields.clear();
  spans_.clear();
  // Skips the rest of a malformed record's line.
  const auto malformed = [&](size_t at, std::string problem) {
    const size_t end = LineEnd(data, len, at);
    if (end == len && !final) return false;
    record_.problem = std::move(problem);
    record_.raw = std::string_view(data + start, WithoutCr(data, start, end) - start);
    pos = end < len ? end + 1 : len;
    if (end < len) ++line_;
    return true;
  };
  size_t p = start;
  for (;;) {
    if (p < len && data[p] == '"') {
      // A quoted field: up to the quote not followed by another.
      size_t q = p + 1;
      bool escaped = false;
      uint64_t breaks = 0;
      for (;;) {
        const void* found = std::memchr(data + q, '"', len - q);
        if (found == nullptr) {
          if (!final) return false;
          line_ += breaks + std::count(data + q, data + len, '\n');
          record_.problem = "a quote opened here is never closed (the input ends inside it)";
          record_.raw = std::string_view(data + start, len - start);
          pos = len;
          return true;
        }
        const size_t at = static_cast<size_t>(static_cast<const char*>(found) - data);
        breaks += std::count(data + q, data + at, '\n');
        if (at + 1 < len && data[at + 1] == '"') {
          escaped = true;
          q = at + 2;
          continue;
        }
        if (at + 1 == len && !final) return false;
        spans_.push_back(Span{p + 1, at, escaped});
        line_ += breaks;
        p = at + 1;
        break;
      }
      if (p < len && data[p] != ',' && data[p] != '\n' && data[p] != '\r') {
        return malformed(p, "text after a closing quote (a quote inside a field is written \"\")");
      }
    } else {
      // An unquoted field: up to the next comma or line break.
      size_t q = p;
      while (q < len && data[q] != ',' && data[q] != '\n') {
        if (data[q] == '"') {
          return malformed(q, "a quote inside an unquoted field (quote the whole field)");
        }
        ++q;
      }
      if (q == len && !final) return false;
      const size_t end = q < len && data[q] == '\n' ? WithoutCr(data, p, q) : q;
      spans_.push_back(Span{p, q == len ? WithoutCr(data, p, q) : end, false});
      p = q;
    }
    if (p < len && data[p] == '\r') ++p;
    if (p == len && !final) return false;
    if (p < len && data[p] == ',') {
      ++p;
      continue;
    }
    // The end of the record: a line break, or the end of the input.
    if (p < len && data[p] != '\n') return malformed(p, "a stray carriage return");
    const size_t end = p;
    record_.raw = std::string_view(data + start, WithoutCr(data, start, end) - start);
    pos = end < len ? end + 1 : len;
    if (end < len) ++line_;
    break;
  }
  unescaped_.resize(std::max(unescaped_.size(), spans_.size()));
  for (size_t i = 0; i < spans_.size(); ++i) {
    const Span& s = spans_[i];
    std::string_view value(data + s.begin, s.end - s.begin);
    if (s.escaped) {
      std::string& out = unescaped_[i];
      out.clear();
      for (size_t k = 0; k < value.size(); ++k) {
        out += value[k];
        if (value[k] == '"') ++k;  // "" is one quote
      }
      value = out;
    }
    record_.fields.push_back(value);
  }
  return true;
}

}  // namespace pixelmill
