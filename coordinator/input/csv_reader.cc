#include "coordinator/input/csv_reader.h"

#include <algorithm>
#include <cstring>

namespace pixelmill {
namespace {

size_t WithoutCr(const char* data, size_t begin, size_t end) {
  return end > begin && data[end - 1] == '\r' ? end - 1 : end;
}

}  // namespace

size_t LineEnd(const char* data, size_t len, size_t pos) {
  const void* nl = std::memchr(data + pos, '\n', len - pos);
  return nl == nullptr ? len : static_cast<size_t>(static_cast<const char*>(nl) - data);
}

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

bool CsvReader::Malformed(const char* data, size_t len, size_t start, size_t at, bool final,
                          size_t& pos, std::string problem) {
  const size_t end = LineEnd(data, len, at);
  if (end == len && !final) return false;
  record_.problem = std::move(problem);
  record_.raw = std::string_view(data + start, WithoutCr(data, start, end) - start);
  pos = end < len ? end + 1 : len;
  if (end < len) ++line_;
  return true;
}

bool CsvReader::ReadRecord(const char* data, size_t len, size_t& pos, bool final) {
  const size_t start = pos;
  record_.line = line_;
  record_.problem.clear();
  record_.fields.clear();
  spans_.clear();
  size_t p = start;
  for (;;) {
    if (spans_.size() == max_fields_) {
      return Malformed(data, len, start, p, final, pos,
                       "more than " + std::to_string(max_fields_) + " fields");
    }
    if (p < len && data[p] == '"') {
      // A quoted field: up to the quote not followed by another.
      size_t q = p + 1;
      bool escaped = false;
      uint64_t breaks = 0;
      for (;;) {
        const void* found = std::memchr(data + q, '"', len - q);
        if (found == nullptr) {
          if (!final) return false;
          line_ += breaks + static_cast<uint64_t>(std::count(data + q, data + len, '\n'));
          record_.problem = "a quote opened here is never closed (the input ends inside it)";
          record_.raw = std::string_view(data + start, len - start);
          pos = len;
          return true;
        }
        const size_t at = static_cast<size_t>(static_cast<const char*>(found) - data);
        breaks += static_cast<uint64_t>(std::count(data + q, data + at, '\n'));
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
      // After the closing quote: a comma, a line break (CRLF or LF) or the end.
      if (p < len && data[p] == '\r' && (p + 1 == len || data[p + 1] == '\n')) ++p;
      if (p < len && data[p] != ',' && data[p] != '\n') {
        return Malformed(data, len, start, p, final, pos,
                         "text after a closing quote (a quote inside a field is written \"\")");
      }
    } else {
      // An unquoted field: up to the next comma or line break.
      size_t q = p;
      while (q < len && data[q] != ',' && data[q] != '\n') {
        if (data[q] == '"') {
          return Malformed(data, len, start, q, final, pos,
                           "a quote inside an unquoted field (quote the whole field)");
        }
        ++q;
      }
      if (q == len && !final) return false;
      spans_.push_back(Span{p, q == len || data[q] == '\n' ? WithoutCr(data, p, q) : q, false});
      p = q;
    }
    if (p == len && !final) return false;
    if (p < len && data[p] == ',') {
      ++p;
      continue;
    }
    // The end of the record: a line break, or the end of the input.
    record_.raw = std::string_view(data + start, WithoutCr(data, start, p) - start);
    pos = p < len ? p + 1 : len;
    if (p < len) ++line_;
    TakeFields(data);
    return true;
  }
}

void CsvReader::TakeFields(const char* data) {
  size_t escaped_bytes = 0;
  for (const Span& s : spans_) escaped_bytes += s.escaped ? s.end - s.begin : 0;
  unescaped_.clear();
  unescaped_.reserve(escaped_bytes);  // no reallocation below: the views stay valid
  for (const Span& s : spans_) {
    std::string_view value(data + s.begin, s.end - s.begin);
    if (s.escaped) {
      const size_t from = unescaped_.size();
      for (size_t k = 0; k < value.size(); ++k) {
        unescaped_ += value[k];
        if (value[k] == '"') ++k;  // "" is one quote
      }
      value = std::string_view(unescaped_).substr(from);
    }
    record_.fields.push_back(value);
  }
}

}  // namespace pixelmill
