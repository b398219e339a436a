#include "coordinator/input/user_loader.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <optional>

#include "common/base/json_writer.h"
#include "common/base/memory_limit.h"
#include "coordinator/input/csv_reader.h"
#include "coordinator/input/id_index.h"
#include "coordinator/input/record_parser.h"

namespace pixelmill {
namespace {

namespace od = simdjson::ondemand;

constexpr size_t kMinChunkBytes = 4 << 20;       // JSONL is read in chunks of this size
constexpr size_t kBatchBytes = 1 << 20;          // iterate_many batch (records are smaller)
constexpr size_t kRawKept = 4096;                // bytes of a bad record passed to the callback
constexpr uint64_t kStopCheckRecords = 1 << 16;  // records between two looks at stop_requested
// A JSON array is parsed whole: simdjson's structural index (4 bytes per input byte) and string
// buffer (5/3 bytes per byte) besides the text itself.
constexpr uint64_t kArrayParseBytesPerByte = 6;

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool AllBlank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!IsBlank(p[i])) return false;
  }
  return true;
}

// After the root value is consumed: is there nothing but whitespace left?
bool AtEnd(od::document& doc) { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

size_t CountNewlines(const char* p, size_t n) {
  size_t count = 0;
  for (const char* end = p + n; (p = static_cast<const char*>(std::memchr(p, '\n', end - p)));) {
    ++count, ++p;
  }
  return count;
}

std::string ByteForMessage(unsigned char c) {
  if (c >= 0x21 && c < 0x7f) return {'\'', static_cast<char>(c), '\''};
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02x", c);
  return hex;
}

// A read buffer with simdjson's padding after its usable bytes.
class Buffer {
 public:
  explicit Buffer(size_t capacity)
      : capacity_(capacity), data_(new char[capacity + simdjson::SIMDJSON_PADDING]) {}
  char* data() { return data_.get(); }
  size_t capacity() const { return capacity_; }
  // Grows to at least `capacity`, keeping the first `keep` bytes.
  void Grow(size_t capacity, size_t keep) {
    std::unique_ptr<char[]> bigger(new char[capacity + simdjson::SIMDJSON_PADDING]);
    std::memcpy(bigger.get(), data_.get(), keep);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

 private:
  size_t capacity_;
  std::unique_ptr<char[]> data_;
};

class Loader {
 public:
  Loader(ByteSource& input, const LoadOptions& options, UserStore& store, const BadRecordFn& on_bad)
      : input_(input),
        options_(options),
        store_(store),
        on_bad_(on_bad),
        chunk_bytes_(std::max(kMinChunkBytes, options.max_record_bytes + 1)),
        buffer_(chunk_bytes_) {}

  Result<LoadStats> Run();

 private:
  Status LoadJsonl(size_t start, size_t have, bool eof);
  Status LoadArray(size_t start, size_t have, bool eof);
  Status LoadCsv(size_t start, size_t have, bool eof);
  Status CheckChunk() const;
  Status NextChunk(size_t end, size_t& have, bool& eof);
  Status CsvHeader(const CsvRecord& header);
  void AcceptCsv(const CsvRecord& record);
  Status ReadMore(size_t& have, bool& eof);
  Status SkipLongLine(size_t& start, size_t& have, bool& eof);
  Status ReserveForInput(size_t bytes_seen);
  bool StopRequested() const { return options_.stop_requested && options_.stop_requested(); }
  Status Interrupted() const;
  Status CheckMemory(uint64_t needed, const std::string& what, const char* hint = "") const;
  uint64_t LoadedBytes() const;

  void ProcessSpan(const char* data, size_t len, bool final);
  bool StreamLines(const char* data, size_t len, size_t& pos);
  bool ParseLine(const char* p, size_t n, bool unterminated);
  bool HasTrailingContent(const char* p, size_t n);

  bool Accept(const RawUser& user, uint64_t position, std::string_view raw);
  Status RemoveDuplicates();
  // A bad record. One of this shard's users (`ours`: a duplicate id) is always reported; any
  // other only by the shard that takes bad records (Shard::TakesBadRecords).
  void Reject(uint64_t position, std::string field, std::string message, std::string_view raw,
              bool ours = false);
  Status Fatal(uint64_t position, const std::string& message) const;

  ByteSource& input_;
  const LoadOptions& options_;
  const FieldPaths paths_{options_.fields};
  UserStore& store_;
  const BadRecordFn& on_bad_;
  const size_t chunk_bytes_;
  Buffer buffer_;

  od::parser stream_parser_;  // iterate_many over a span of lines
  od::parser line_parser_;    // one line at a time, after the stream stumbles
  // Duplicate detection: positions_[k] is the line or index of the k-th user loaded (store index
  // first_index_ + k); increasing_ while every id was larger than the one before.
  const size_t first_index_ = store_.size();
  std::vector<uint64_t> positions_;
  bool increasing_ = true;
  LoadStats stats_;
  bool by_line_ = true;
  uint64_t line_ = 1;  // JSONL: number of the line being looked at
  bool stop_ = false;  // too many bad records: stop reading
  // CSV: the column of the id, name and URL (kNoColumn: none), and the header's width.
  static constexpr size_t kNoColumn = SIZE_MAX;
  std::array<size_t, 3> csv_columns_ = {kNoColumn, kNoColumn, kNoColumn};
  size_t csv_width_ = 0;
  std::vector<std::string> shown_;
};

Result<LoadStats> Loader::Run() {
  const auto started = std::chrono::steady_clock::now();
  size_t have = 0;
  bool eof = false;
  if (Status s = ReadMore(have, eof); !s.ok()) return s;
  char* data = buffer_.data();
  size_t start = 0;
  if (have >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0) start = 3;  // UTF-8 BOM
  size_t first = start;
  while (first < have && IsBlank(data[first])) ++first;
  // Blanks before the first record may fill any number of chunks: drop each, counting its lines.
  while (first == have && !eof) {
    line_ += CountNewlines(data, have);
    have = start = first = 0;
    if (Status s = ReadMore(have, eof); !s.ok()) return s;
    while (first < have && IsBlank(data[first])) ++first;
  }
  if (first == have) {
    if (stats_.bytes == 0) {
      return Status::Error(Code::kBadInput, input_.name() + ": empty file: no users to load");
    }
    return Status::Error(Code::kBadInput,
                         input_.name() + ": no JSON in the file (only whitespace)");
  }
  Status status;
  if (data[first] == '{') {
    status = LoadJsonl(start, have, eof);
  } else if (data[first] == '[') {
    stats_.format = InputFormat::kJsonArray;
    by_line_ = false;
    status = LoadArray(first, have, eof);
  } else if (std::memchr(data + first, ',', LineEnd(data, have, first) - first) != nullptr) {
    stats_.format = InputFormat::kCsv;
    status = LoadCsv(start, have, eof);
  } else {
    return Status::Error(
        Code::kBadInput,
        input_.name() + ":" + std::to_string(line_ + CountNewlines(data, first)) +
            ": not JSON or CSV: expected a JSON array ('['), JSONL objects ('{') or a CSV header "
            "row (column names separated by commas), found " +
            ByteForMessage(static_cast<unsigned char>(data[first])));
  }
  if (!status.ok()) return status;
  if (Status s = RemoveDuplicates(); !s.ok()) return s;
  stats_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (stats_.bad_records > options_.max_bad_records) {
    std::string message = (stop_ ? "at least " : "") + std::to_string(stats_.bad_records) +
                          " bad record(s) in " + input_.name() + ", more than the " +
                          std::to_string(options_.max_bad_records) +
                          " allowed (--max-bad-records):";
    for (const std::string& line : shown_) message += "\n  " + line;
    if (stats_.bad_records > shown_.size()) message += "\n  ...";
    return Status::Error(Code::kBadInput, message);
  }
  return stats_;
}

Status Loader::ReadMore(size_t& have, bool& eof) {
  Result<size_t> got =
      input_.Read(buffer_.data() + have, buffer_.capacity() - have, options_.stop_requested);
  if (!got.ok()) return got.status().code() == Code::kInterrupted ? Interrupted() : got.status();
  stats_.bytes += got.value();
  eof = have + got.value() < buffer_.capacity();
  have += got.value();
  return Status::Ok();
}

// JSONL: hand every run of complete lines to ProcessSpan; lines never straddle two spans.
Status Loader::LoadJsonl(size_t start, size_t have, bool eof) {
  char* data = buffer_.data();
  while (!stop_) {
    size_t end = have;
    if (!eof) {
      const void* last = memrchr(data + start, '\n', have - start);
      if (last == nullptr && start == 0) {
        if (Status s = SkipLongLine(start, have, eof); !s.ok()) return s;
        continue;
      }
      end = last == nullptr ? start : static_cast<const char*>(last) - data + 1;
    }
    ProcessSpan(data + start, end - start, eof);
    if (Status s = CheckChunk(); !s.ok()) return s;
    if (eof) break;
    if (Status s = NextChunk(end, have, eof); !s.ok()) return s;
    start = 0;
  }
  return Status::Ok();
}

// After a chunk: stops if asked; the store grows by doubling its arrays: it must be able to
// double once more.
Status Loader::CheckChunk() const {
  if (StopRequested()) return Interrupted();
  return CheckMemory(2 * LoadedBytes() + buffer_.capacity(), "the users loaded so far");
}

// Keeps the bytes from `end` on, at the buffer's start, and reads more after them.
Status Loader::NextChunk(size_t end, size_t& have, bool& eof) {
  if (stats_.bytes == buffer_.capacity()) {
    if (Status s = ReserveForInput(end); !s.ok()) return s;
  }
  char* data = buffer_.data();
  std::memmove(data, data + end, have - end);
  have -= end;
  return ReadMore(have, eof);
}

// After the first chunk: size the store and the id index for the whole file, extrapolating
// from what the chunk held, so loading does not reallocate and copy as it grows.
Status Loader::ReserveForInput(size_t bytes_seen) {
  const uint64_t total = input_.size_hint();
  if (total <= bytes_seen || bytes_seen == 0 || store_.empty()) return Status::Ok();
  const double scale = static_cast<double>(total) / static_cast<double>(bytes_seen) * 1.02;
  const auto users = static_cast<size_t>(static_cast<double>(store_.size()) * scale);
  const auto string_bytes = static_cast<size_t>(
      static_cast<double>(store_.FieldBytes() - store_.size() * sizeof(int64_t)) * scale);
  const uint64_t per_user = sizeof(int64_t) + UserStore::kFixedOverheadPerUser + sizeof(uint64_t);
  if (Status s = CheckMemory(users * per_user + string_bytes + buffer_.capacity(),
                             "the whole file (" + std::to_string(users) + " users expected)");
      !s.ok()) {
    return s;
  }
  store_.Reserve(users, string_bytes);
  positions_.reserve(users);
  return Status::Ok();
}

// The store's bytes and the loader's own per user.
uint64_t Loader::LoadedBytes() const {
  return store_.MemoryBytes() + positions_.capacity() * sizeof(uint64_t);
}

Status Loader::Interrupted() const {
  return Status::Error(Code::kInterrupted, "loading " + input_.name() + " was interrupted after " +
                                               HumanBytes(stats_.bytes) + " (" +
                                               std::to_string(stats_.users) + " users loaded)");
}

// Fails when `what` would take `needed` bytes, more than options.max_memory_bytes.
Status Loader::CheckMemory(uint64_t needed, const std::string& what, const char* hint) const {
  if (options_.max_memory_bytes == 0 || needed <= options_.max_memory_bytes) return Status::Ok();
  return Status::Error(
      Code::kBadInput,
      input_.name() + ": loading stopped after " + HumanBytes(stats_.bytes) + " read: " + what +
          " would need about " + HumanBytes(needed) + " of memory, more than loading may use (" +
          HumanBytes(options_.max_memory_bytes) + ", " + options_.memory_limit_why + ")" + hint);
}

// A line fills the whole buffer: refuse it and read on to its end without keeping it.
Status Loader::SkipLongLine(size_t& start, size_t& have, bool& eof) {
  char* data = buffer_.data();
  Reject(line_, "",
         "record is longer than " + std::to_string(options_.max_record_bytes) +
             " bytes, the limit for one user record",
         std::string_view(data, have));
  while (true) {
    have = 0;
    if (Status s = ReadMore(have, eof); !s.ok()) return s;
    const void* nl = std::memchr(data, '\n', have);
    if (nl != nullptr) {
      start = static_cast<const char*>(nl) - data + 1;
      ++line_;
      std::memmove(data, data + start, have - start);
      have -= start;
      start = 0;
      return eof ? Status::Ok() : ReadMore(have, eof);
    }
    if (eof) return Status::Ok();
  }
}

// Parses the complete lines in [data, data + len). line_ numbers the first line on entry and
// the line after the span on return. `final`: the span ends the input.
void Loader::ProcessSpan(const char* data, size_t len, bool final) {
  size_t pos = 0;
  bool careful = false;
  while (pos < len && !stop_) {
    if (!careful) {
      careful = !StreamLines(data, len, pos);
      continue;
    }
    // One line at a time until the line that broke the stream is found, then stream again.
    const void* nl = std::memchr(data + pos, '\n', len - pos);
    const size_t end = nl == nullptr ? len : static_cast<const char*>(nl) - data;
    const bool bad = ParseLine(data + pos, end - pos, final && nl == nullptr);
    pos = nl == nullptr ? len : end + 1;
    if (nl != nullptr) ++line_;
    if (bad) careful = false;
  }
}

// Streams records from `pos` with iterate_many. Returns true when the span is done; false when
// it stopped at the line starting at `pos` (which needs a careful look).
bool Loader::StreamLines(const char* data, size_t len, size_t& pos) {
  od::document_stream stream;
  if (stream_parser_.iterate_many(data + pos, len - pos, kBatchBytes).get(stream)) return false;
  size_t cursor = pos;  // start of line line_
  for (auto it = stream.begin(); it != stream.end() && !stop_; ++it) {
    size_t start = pos + it.current_index();
    while (start < len && IsBlank(data[start])) ++start;  // after a restart it may point at blanks
    if (start < cursor || start >= len) break;
    for (const void* nl; (nl = std::memchr(data + cursor, '\n', start - cursor)) != nullptr;) {
      cursor = static_cast<const char*>(nl) - data + 1;
      ++line_;
    }
    auto doc = *it;
    if (doc.error()) break;
    RawUser user;
    RecordProblem problem;
    const bool parsed = ParseUserDocument(doc.value_unsafe(), paths_, user, problem);
    if (!parsed && problem.kind == RecordProblem::kSyntax) break;
    // A record must fill its line alone. Once it is consumed the parser stands at the next
    // record: between the two there must be one newline and then only blanks. (A record left
    // half-read by a problem fails this too and gets its careful look.)
    const auto next_at = doc.value_unsafe().current_location();
    const size_t next = next_at.error() ? len : next_at.value_unsafe() - data;
    const void* nl = std::memchr(data + start, '\n', next - start);
    if (nl == nullptr && next != len) break;
    const size_t end = nl == nullptr ? len : static_cast<const char*>(nl) - data;
    if (end + 1 < next && !AllBlank(data + end + 1, next - end - 1)) break;
    if (end - cursor > options_.max_record_bytes) break;
    const std::string_view raw(data + cursor, end - cursor);
    if (parsed) {
      Accept(user, line_, raw);
    } else {
      Reject(line_, std::move(problem.field), std::move(problem.message), raw);
    }
    cursor = end < len ? end + 1 : len;
    if (end < len) ++line_;
  }
  // Whatever the stream left (an error, a truncated last record) gets a careful look.
  if (!stop_ && !AllBlank(data + cursor, len - cursor)) {
    pos = cursor;
    return false;
  }
  line_ += CountNewlines(data + cursor, len - cursor);
  pos = len;
  return true;
}

// On-demand parsing reports "{...} xyz" as an unclosed object; a stream over the line tells
// whether a complete first record is followed by more.
bool Loader::HasTrailingContent(const char* p, size_t n) {
  size_t first = 0;
  while (first < n && IsBlank(p[first])) ++first;
  if (first == n || p[first] != '{') return false;
  od::document_stream stream;
  if (line_parser_.iterate_many(p, n, std::max(n, kBatchBytes)).get(stream)) return false;
  auto it = stream.begin();
  if (!(it != stream.end()) || (*it).error()) return false;
  const size_t end = it.current_index() + it.source().size();
  return end < n && !AllBlank(p + end, n - end);
}

// Parses one line on its own. Returns true if the line was a bad record.
bool Loader::ParseLine(const char* p, size_t n, bool unterminated) {
  const std::string_view raw(p, n);
  if (AllBlank(p, n)) return false;
  if (n > options_.max_record_bytes) {
    Reject(line_, "",
           "record is " + std::to_string(n) + " bytes, over the limit of " +
               std::to_string(options_.max_record_bytes) + " bytes for one user record",
           raw);
    return true;
  }
  RawUser user;
  RecordProblem problem;
  od::document doc;
  if (auto e = line_parser_.iterate(p, n, n + simdjson::SIMDJSON_PADDING).get(doc)) {
    problem = {RecordProblem::kSyntax, "", DescribeJsonError(e)};
  } else if (ParseUserDocument(doc, paths_, user, problem) && !AtEnd(doc)) {
    problem = {RecordProblem::kSyntax, "", DescribeJsonError(simdjson::TRAILING_CONTENT)};
  }
  if (problem.kind == RecordProblem::kNone) return !Accept(user, line_, raw);
  if (problem.kind == RecordProblem::kSyntax && HasTrailingContent(p, n)) {
    problem.message = DescribeJsonError(simdjson::TRAILING_CONTENT);
  }
  if (unterminated && problem.kind == RecordProblem::kSyntax) {
    problem.message =
        "truncated last line (the file ends mid-record, without a newline): " + problem.message;
  }
  Reject(line_, std::move(problem.field), std::move(problem.message), raw);
  return true;
}

// A JSON array is parsed whole: the rest of the input is read into one buffer first.
Status Loader::LoadArray(size_t start, size_t have, bool eof) {
  constexpr const char* kArrayHint =
      "; a JSON array is parsed whole, taking about 7 times its size: JSONL (one user a line) is "
      "read in chunks";
  while (!eof) {
    if (have == buffer_.capacity()) {
      const uint64_t hint = input_.size_hint();
      const size_t capacity = hint > have ? hint + 1 : have * 2;
      // The text read so far, parsed, besides the grown buffer.
      const uint64_t expected = std::max<uint64_t>(hint, have);
      if (Status s = CheckMemory(
              buffer_.capacity() + capacity + kArrayParseBytesPerByte * expected + LoadedBytes(),
              "the JSON array", kArrayHint);
          !s.ok()) {
        return s;
      }
      buffer_.Grow(capacity, have);
    }
    if (Status s = ReadMore(have, eof); !s.ok()) return s;
  }
  if (Status s = CheckMemory(buffer_.capacity() + kArrayParseBytesPerByte * have + LoadedBytes(),
                             "the JSON array", kArrayHint);
      !s.ok()) {
    return s;
  }
  od::document doc;
  od::array array;
  if (auto e = line_parser_
                   .iterate(buffer_.data() + start, have - start,
                            buffer_.capacity() - start + simdjson::SIMDJSON_PADDING)
                   .get(doc)) {
    return Status::Error(Code::kBadInput, input_.name() + ": " + DescribeJsonError(e));
  }
  if (auto e = doc.get_array().get(array)) {
    return Status::Error(Code::kBadInput, input_.name() + ": " + DescribeJsonError(e));
  }
  uint64_t index = 0;
  for (auto element : array) {
    od::value value;
    RawUser user;
    RecordProblem problem;
    od::json_type type;
    if (auto e = std::move(element).get(value)) return Fatal(index, DescribeJsonError(e));
    if (auto e = value.type().get(type)) return Fatal(index, DescribeJsonError(e));
    od::object object;
    if (type != od::json_type::object) {
      Reject(index, "", "expected a JSON object, got " + std::string(JsonTypeName(type)), {});
    } else if (auto e = value.get_object().get(object)) {
      return Fatal(index, DescribeJsonError(e));
    } else if (ParseUserObject(object, paths_, user, problem)) {
      Accept(user, index, {});
    } else if (problem.kind == RecordProblem::kSyntax) {
      return Fatal(index, (problem.field.empty() ? "" : "field \"" + problem.field + "\": ") +
                              problem.message);
    } else {
      Reject(index, std::move(problem.field), std::move(problem.message), {});
    }
    if (stop_) return Status::Ok();
    if (++index % kStopCheckRecords == 0 && StopRequested()) return Interrupted();
  }
  if (!AtEnd(doc)) {
    return Status::Error(Code::kBadInput,
                         input_.name() + ": trailing content after the JSON array");
  }
  return Status::Ok();
}

// CSV: a header row names the columns (RecordFields: the id, name and URL columns), then one
// user a record; records are streamed chunk by chunk like JSONL lines.
Status Loader::LoadCsv(size_t start, size_t have, bool eof) {
  char* data = buffer_.data();
  CsvReader reader(line_);
  Status header;
  bool have_header = false;
  const auto on_record = [&](const CsvRecord& record) {
    if (have_header) return AcceptCsv(record);
    header = CsvHeader(record);
    have_header = true;
    reader.set_max_fields(csv_width_);
  };
  const auto stop = [&] { return stop_ || !header.ok(); };
  while (!stop()) {
    const size_t used = reader.Read(data + start, have - start, eof, on_record, stop);
    if (!header.ok()) return header;
    if (Status s = CheckChunk(); !s.ok()) return s;
    if (eof || stop_) break;
    if (start + used == 0 && have == buffer_.capacity()) {
      return Status::Error(Code::kBadInput,
                           input_.name() + ":" + std::to_string(reader.line()) +
                               ": a CSV record longer than " +
                               std::to_string(options_.max_record_bytes) +
                               " bytes, the limit for one user record (a quote left open?)");
    }
    if (Status s = NextChunk(start + used, have, eof); !s.ok()) return s;
    start = 0;
  }
  if (!have_header) {
    return Status::Error(Code::kBadInput, input_.name() + ": no CSV header row");
  }
  return Status::Ok();
}

// The header: which column holds each field.
Status Loader::CsvHeader(const CsvRecord& header) {
  const auto fail = [&](const std::string& why) {
    return Status::Error(Code::kBadInput,
                         input_.name() + ":" + std::to_string(header.line) + ": CSV header " + why);
  };
  if (!header.problem.empty()) return fail(header.problem);
  constexpr size_t kNamesShown = 8, kNameShown = 40;
  std::string names;
  for (size_t c = 0; c < header.fields.size() && c < kNamesShown; ++c) {
    const std::string_view name = header.fields[c];
    names += (c == 0 ? "" : ", ") + std::string(name.substr(0, kNameShown)) +
             (name.size() > kNameShown ? "..." : "");
  }
  if (header.fields.size() > kNamesShown) names += ", ...";
  csv_columns_ = {kNoColumn, kNoColumn, kNoColumn};
  csv_width_ = header.fields.size();
  for (size_t f = 0; f < 3; ++f) {
    const std::string& name = options_.fields[f];
    if (name.empty()) continue;
    for (size_t c = 0; c < header.fields.size(); ++c) {
      if (header.fields[c] != name) continue;
      if (csv_columns_[f] != kNoColumn) return fail("names the column \"" + name + "\" twice");
      csv_columns_[f] = c;
    }
    if (csv_columns_[f] == kNoColumn) {
      return fail("has no column \"" + name + "\" (its columns: " + names + "); name it with " +
                  RecordFields::kFlags[f]);
    }
  }
  return Status::Ok();
}

void Loader::AcceptCsv(const CsvRecord& record) {
  if (!record.problem.empty()) return Reject(record.line, "", record.problem, record.raw);
  if (record.raw.size() > options_.max_record_bytes) {
    return Reject(record.line, "", "record is over the limit for one user record", record.raw);
  }
  if (record.fields.size() != csv_width_) {
    return Reject(record.line, "",
                  "expected " + std::to_string(csv_width_) + " fields, as the header has, got " +
                      std::to_string(record.fields.size()),
                  record.raw);
  }
  std::string_view values[3];
  for (size_t f = 0; f < 3; ++f) {
    if (csv_columns_[f] == kNoColumn) continue;
    values[f] = record.fields[csv_columns_[f]];
    if (!simdjson::validate_utf8(values[f].data(), values[f].size())) {
      return Reject(record.line, options_.fields[f], "invalid UTF-8", record.raw);
    }
  }
  RawUser user;
  user.id = IdFromText(values[0]);
  if (values[0].empty() || user.id.is_string()) {
    if (std::string problem = StringIdProblem(values[0]); !problem.empty()) {
      return Reject(record.line, options_.fields.id, std::move(problem), record.raw);
    }
  }
  user.name = values[1];
  user.image_url = values[2];
  Accept(user, record.line, record.raw);
}

Status Loader::Fatal(uint64_t position, const std::string& message) const {
  return Status::Error(Code::kBadInput,
                       input_.name() + "[" + std::to_string(position) + "]: " + message +
                           " (a broken JSON array cannot be read past this point)");
}

// Duplicate check, after loading: ids that only ever increased cannot repeat; otherwise every id
// goes through a hash index, prefetching the slot a few ids ahead so the cache misses overlap
// instead of queueing. The first record of an id stays; later ones are rejected (in line order)
// and taken out of the store.
Status Loader::RemoveDuplicates() {
  constexpr size_t kAhead = 8;
  const size_t n = positions_.size();
  if (increasing_ || n < 2) return Status::Ok();
  IdIndex index(n);
  std::vector<size_t> drop;
  for (size_t k = 0; k < n; ++k) {
    if (k % kStopCheckRecords == 0 && StopRequested()) return Interrupted();
    if (k + kAhead < n) index.Prefetch(store_.key(first_index_ + k + kAhead));
    const UserView user = store_.Get(first_index_ + k);
    const std::optional<uint64_t> first = index.InsertOrFind(
        store_.key(first_index_ + k), k,
        [&](uint64_t earlier) { return store_.id(first_index_ + earlier) == user.id; });
    if (!first) continue;
    drop.push_back(first_index_ + k);
    JsonObject record;
    AddId(record, "id", user.id);
    Reject(positions_[k], options_.fields.id,
           "duplicate id " + IdText(user.id) + " (first seen at " +
               (by_line_ ? "line " : "index ") + std::to_string(positions_[*first]) + ")",
           record.Add("name", user.name).Add("image_url", user.image_url).Done(), /*ours=*/true);
  }
  if (drop.empty()) return Status::Ok();
  store_.RemoveSorted(drop);
  stats_.users -= drop.size();
  return Status::Ok();
}

bool Loader::Accept(const RawUser& user, uint64_t position, std::string_view raw) {
  if (user.image_url.empty()) {
    Reject(position, options_.fields.image_url, "empty string: every user needs an image URL", raw);
    return false;
  }
  if (user.name.size() > options_.max_record_bytes ||
      user.image_url.size() > options_.max_record_bytes) {
    Reject(position, "", "record is over the limit for one user record", raw);
    return false;
  }
  if (!options_.shard.Holds(user.id)) {
    ++stats_.other_shards;
    return true;
  }
  if (user.id.is_string() ||
      (!positions_.empty() && user.id.number <= store_.id(store_.size() - 1).number)) {
    increasing_ = false;
  }
  positions_.push_back(position);
  store_.Add(user.id, user.name, user.image_url);
  ++stats_.users;
  return true;
}

void Loader::Reject(uint64_t position, std::string field, std::string message, std::string_view raw,
                    bool ours) {
  if (!ours && !options_.shard.TakesBadRecords()) {
    ++stats_.other_shards;
    return;
  }
  BadRecord bad{by_line_, position, std::move(field), std::move(message), raw.substr(0, kRawKept)};
  ++stats_.bad_records;
  if (on_bad_) on_bad_(bad);
  if (shown_.size() < options_.max_errors_shown) shown_.push_back(bad.Describe(input_.name()));
  if (stats_.bad_records > options_.max_bad_records && shown_.size() >= options_.max_errors_shown) {
    stop_ = true;
  }
}

}  // namespace

std::string_view InputFormatName(InputFormat format) {
  return format == InputFormat::kJsonl       ? "jsonl"
         : format == InputFormat::kJsonArray ? "json-array"
                                             : "csv";
}

std::string BadRecord::Describe(std::string_view source) const {
  std::string out(source);
  out += by_line ? ":" + std::to_string(position) + ": " : "[" + std::to_string(position) + "]: ";
  if (!field.empty()) out += "field \"" + field + "\": ";
  out += message;
  return out;
}

Result<LoadStats> LoadUsers(ByteSource& input, const LoadOptions& options, UserStore& store,
                            const BadRecordFn& on_bad) {
  try {
    Loader loader(input, options, store, on_bad);
    Result<LoadStats> result = loader.Run();
    store.ShrinkToFit();
    return result;
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::kBadInput, input.name() +
                                              ": out of memory while loading (a JSON array is "
                                              "parsed whole; use JSONL for very large inputs)");
  }
}

}  // namespace pixelmill
