// CsvReader: RFC 4180 records from a byte stream handed over in spans: fields separated by
// commas, records by LF or CRLF, a field in double quotes may hold commas, quotes (written "")
// and line breaks. Blank lines (nothing but spaces and tabs) are skipped. A malformed record (a
// quote inside an unquoted field, text after a closing quote, a quote left open at the end of the
// input) is reported with its problem and skipped to the end of its line; reading goes on.
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

  uint64_t line_;
  CsvRecord record_;
  struct Span {
    size_t begin, end;  // in the span given to Read
    bool escaped;       // holds "" to unescape
  };
  std::vector<Span> spans_;
  std::vector<std::string> unescaped_;
};

}  // namespace pixelmill
