// CsvReader: RFC 4180 records from a byte stream handed over in spans: fields separated by
// commas, records by LF or CRLF, a field in double quotes may hold commas, quotes (written "")
// and line breaks. Blank lines (nothing but spaces and tabs) are skipped. A malformed record (a
// quote inside an unquoted field, text after a closing quote, more fields than allowed, a quote
// left open at the end of the input) is reported with its problem and skipped to the end of its
// line; reading goes on. Memory: a few dozen bytes a field of the record at hand, at most
// max_fields of them.
//
// Not thread-safe; one reader per input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pixelmill {

// The end of the line at or after `pos` in [data, data + len): its '\n', or len.
size_t LineEnd(const char* data, size_t len, size_t pos);

struct CsvRecord {
  uint64_t line = 0;     // the line it starts on, from 1
  std::string_view raw;  // its bytes, line break excluded
  std::string problem;   // empty unless malformed (then `fields` is empty)
  // Each field's value, quotes removed and "" unescaped; valid during the callback.
  std::vector<std::string_view> fields;
};

class CsvReader {
 public:
  using RecordFn = std::function<void(const CsvRecord&)>;

  // `first_line`: the number of the line the input starts on.
  explicit CsvReader(uint64_t first_line = 1) : line_(first_line) {}

  // Records with more fields than this are malformed (a header's width, once it is known).
  void set_max_fields(size_t max_fields) { max_fields_ = max_fields; }
  size_t max_fields() const { return max_fields_; }

  // Reads the complete records in [data, data + len), calling `on_record` for each, and returns
  // the bytes they took: a record cut by the span's end is left for the next call (with it at
  // the start), unless `final` (the input ends there). `stop` asked after each record: true
  // returns at once.
  size_t Read(const char* data, size_t len, bool final, const RecordFn& on_record,
              const std::function<bool()>& stop = nullptr);

  // The line the next record starts on.
  uint64_t line() const { return line_; }

 private:
  // Reads one record at `pos`; returns false if it is cut by the end of a non-final span.
  bool ReadRecord(const char* data, size_t len, size_t& pos, bool final);
  // Skips the rest of the line of a malformed record that started at `start`.
  bool Malformed(const char* data, size_t len, size_t start, size_t at, bool final, size_t& pos,
                 std::string problem);
  // Fills record_.fields from spans_.
  void TakeFields(const char* data);

  uint64_t line_;
  size_t max_fields_ = 4096;
  CsvRecord record_;
  struct Span {
    size_t begin, end;  // in the span given to Read
    bool escaped;       // holds "" to unescape
  };
  std::vector<Span> spans_;
  std::string unescaped_;  // the escaped fields' values, back to back
};

}  // namespace pixelmill
