#include "coordinator/engine/run_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include <simdjson.h>

#include "common/base/atomic_file.h"
#include "common/base/fnv1a.h"
#include "common/base/json_writer.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {
namespace {

namespace od = simdjson::ondemand;

constexpr int64_t kStateVersion = 1;
constexpr uint64_t kHashedBytes = kIdentityEndBytes;  // hashed at each end of the input

Status Errno(const std::string& what, const std::string& path, int error) {
  return Status::Error(Code::kIo, what + " " + path + ": " + std::strerror(error));
}

// `length` bytes of `fd` from `offset`.
Result<std::string> ReadRange(int fd, uint64_t offset, uint64_t length, const std::string& path) {
  std::string bytes(length, '\0');
  for (uint64_t done = 0; done < length;) {
    const ssize_t n =
        ::pread(fd, bytes.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path, errno);
    if (n == 0) return Status::Error(Code::kIo, "cannot read " + path + ": it shrank while read");
    done += static_cast<uint64_t>(n);
  }
  return bytes;
}

// The one rule for an input of bytes (a file, a stream): hashed at each end, never whole.
// `ends(offset, length)` gives `length` of its `size` bytes from `offset`.
template <typename Ends>
Status HashEnds(uint64_t size, Ends ends, InputIdentity& id) {
  const uint64_t length = std::min(size, kHashedBytes);
  Result<std::string> head = ends(0, length);
  if (!head.ok()) return head.status();
  id.head_hash = Fnv1a(head.value());
  Result<std::string> tail = ends(size - length, length);
  if (!tail.ok()) return tail.status();
  id.tail_hash = Fnv1a(tail.value());
  return Status::Ok();
}

std::string FormatFlag(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJpeg:
      return "jpeg";
    case OutputFormat::kPng:
      return "png";
    case OutputFormat::kWebp:
      return "webp";
    default:
      return "input";
  }
}

std::string Hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string Time(int64_t ns) {
  const time_t seconds = static_cast<time_t>(ns / 1'000'000'000);
  struct tm utc;
  char date[32] = "?";
  if (::gmtime_r(&seconds, &utc) != nullptr) std::strftime(date, sizeof date, "%F %T", &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%s.%09lld UTC", date,
                static_cast<long long>(ns % 1'000'000'000));
  return text;
}

std::string ToJson(const RunState& state) {
  const InputIdentity& in = state.input;
  return JsonObject()
      .Add("version", kStateVersion)
      .AddRaw("input", JsonObject()
                           .Add("path", in.path)
                           .Add("size", in.size)
                           .Add("mtime_ns", in.mtime_ns)
                           .Add("head_fnv1a", Hex(in.head_hash))
                           .Add("tail_fnv1a", Hex(in.tail_hash))
                           .Done())
      .Add("filter", state.filter)
      .Add("format", state.format)
      .Add("quality", int64_t{state.quality})
      .Add("keep_metadata", state.keep_metadata)
      .Add("max_pixels", state.max_pixels)
      .Add("complete", state.complete)
      .Add("shard", state.shard.Text())
      .Add("users", state.users)
      .Add("input_records", state.input_records)
      .Add("fan_out", state.fan_out)
      .AddRaw("fields", JsonObject()
                            .Add("id", state.fields.id)
                            .Add("name", state.fields.name)
                            .Add("image_url", state.fields.image_url)
                            .Done())
      .Add("started_ns", state.started_ns)
      .Add("finished_ns", state.finished_ns)
      .Done();
}

// Reads the fields of a run.json document; false on any missing or mistyped field.
bool ParseState(od::document& doc, RunState& state) {
  int64_t version = 0, quality = 0;
  std::string_view path, filter, format, head, tail;
  od::object input;
  if (doc["version"].get(version) || version != kStateVersion) return false;
  if (doc["input"].get(input)) return false;
  if (input["path"].get(path) || input["size"].get(state.input.size) ||
      input["mtime_ns"].get(state.input.mtime_ns) || input["head_fnv1a"].get(head) ||
      input["tail_fnv1a"].get(tail)) {
    return false;
  }
  if (doc["filter"].get(filter) || doc["format"].get(format) || doc["quality"].get(quality) ||
      doc["keep_metadata"].get(state.keep_metadata) || doc["max_pixels"].get(state.max_pixels) ||
      doc["complete"].get(state.complete)) {
    return false;
  }
  state.input.path = path;
  state.input.head_hash = std::strtoull(std::string(head).c_str(), nullptr, 16);
  state.input.tail_hash = std::strtoull(std::string(tail).c_str(), nullptr, 16);
  state.filter = filter;
  state.format = format;
  state.quality = static_cast<int>(quality);
  // Since the shard came (older files lack them: one whole run, flat images).
  std::string_view shard;
  if (doc["shard"].get(shard) == simdjson::SUCCESS) {
    Result<Shard> parsed = ParseShard(shard);
    if (!parsed.ok()) return false;
    state.shard = parsed.value();
  }
  od::object fields;
  if (doc["fields"].get(fields) == simdjson::SUCCESS) {
    std::string_view id, name, url;
    if (fields["id"].get(id) || fields["name"].get(name) || fields["image_url"].get(url)) {
      return false;
    }
    state.fields = RecordFields{std::string(id), std::string(name), std::string(url)};
  }
  const auto optional = [&doc](const char* key, auto& value) {
    auto field = doc[key];
    if (field.error() == simdjson::NO_SUCH_FIELD) return true;
    return field.get(value) == simdjson::SUCCESS;
  };
  return optional("users", state.users) && optional("input_records", state.input_records) &&
         optional("fan_out", state.fan_out) && optional("started_ns", state.started_ns) &&
         optional("finished_ns", state.finished_ns);
}

void Compare(std::vector<std::string>& out, const std::string& what, const std::string& before,
             const std::string& now) {
  if (before != now) out.push_back(what + " " + before + " -> " + now);
}

}  // namespace

Result<InputIdentity> IdentifyInput(const std::string& input) {
  InputIdentity id;
  if (input == "-") {
    id.path = "-";
    return id;
  }
  std::error_code ec;
  id.path = std::filesystem::absolute(input, ec).lexically_normal().string();
  if (ec) return Status::Error(Code::kIo, "cannot resolve " + input + ": " + ec.message());
  const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", input, errno);
  struct stat st;
  Status s = ::fstat(fd, &st) == 0 ? Status::Ok() : Errno("cannot inspect", input, errno);
  if (s.ok()) {
    id.size = static_cast<uint64_t>(st.st_size);
    id.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    s = HashEnds(
        id.size,
        [&](uint64_t offset, uint64_t length) { return ReadRange(fd, offset, length, input); }, id);
  }
  ::close(fd);
  if (!s.ok()) return s;
  return id;
}

InputIdentity IdentifyUsers(const UserStore& store, std::string path) {
  InputIdentity id;
  id.path = std::move(path);
  id.size = store.size();
  uint64_t hash = kFnv1aBasis;
  for (size_t i = 0; i < store.size(); ++i) {
    const UserView user = store.Get(i);
    hash = Fnv1a(std::string_view("\0", 1), Fnv1a(IdText(user.id), hash));
    hash = Fnv1a(std::string_view("\0", 1), Fnv1a(user.name, hash));
    hash = Fnv1a(std::string_view("\0", 1), Fnv1a(user.image_url, hash));
  }
  id.head_hash = id.tail_hash = hash;
  return id;
}

InputIdentity IdentifyEnds(std::string_view head, std::string_view tail, uint64_t size,
                           std::string path) {
  InputIdentity id;
  id.path = std::move(path);
  id.size = size;
  // The ends are already in memory: the same rule as a file's, reading never fails.
  const Status hashed = HashEnds(
      size,
      [&](uint64_t offset, uint64_t) -> Result<std::string> {
        return std::string(offset == 0 ? head : tail);
      },
      id);
  (void)hashed;
  return id;
}

Result<RunState> CurrentRunState(const Options& options) {
  Result<InputIdentity> input = IdentifyInput(options.input);
  if (!input.ok()) return input.status();
  return RunStateFor(options, std::move(input).value());
}

RunState RunStateFor(const Options& options, InputIdentity input) {
  RunState state;
  state.input = std::move(input);
  state.filter = options.filter_spec.text;
  state.format = FormatFlag(options.filter_output.format);
  state.quality = options.filter_output.quality;
  state.keep_metadata = options.filter_output.keep_metadata;
  state.max_pixels = options.filter_output.max_pixels;
  state.fields = options.record_fields;
  return state;
}

Status WriteRunState(const std::string& out_dir, const RunState& state) {
  return WriteFileAtomically(OutputLayout(out_dir).run_state(), ToJson(state) + "\n",
                             /*sync=*/true);
}

Status MarkRunComplete(const std::string& out_dir, RunState state) {
  state.complete = true;
  state.finished_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return WriteRunState(out_dir, state);
}

Result<RunState> ReadRunState(const std::string& out_dir) {
  const std::string path = OutputLayout(out_dir).run_state();
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Error(Code::kMissing, path + " does not exist");
    return Errno("cannot inspect", path, errno);
  }
  if (!S_ISREG(st.st_mode)) return Status::Error(Code::kBadState, path + " is not a regular file");
  // A run state is a few hundred bytes: anything far larger is not one, and is not read.
  constexpr off_t kMaxStateBytes = 64 << 10;
  if (st.st_size > kMaxStateBytes) {
    return Status::Error(Code::kBadState, path + " is not a run state pixelmill wrote (" +
                                              std::to_string(st.st_size) + " bytes; one is under " +
                                              std::to_string(kMaxStateBytes) + ")");
  }
  simdjson::padded_string text;
  if (auto e = simdjson::padded_string::load(path).get(text)) {
    return Status::Error(Code::kIo, "cannot read " + path + ": " + simdjson::error_message(e));
  }
  od::parser parser;
  od::document doc;
  RunState state;
  if (parser.iterate(text).get(doc) || !ParseState(doc, state)) {
    return Status::Error(Code::kBadState, path + " is not a run state pixelmill wrote");
  }
  return state;
}

std::vector<std::string> DescribeChanges(const RunState& recorded, const RunState& current) {
  std::vector<std::string> out;
  const InputIdentity& was = recorded.input;
  const InputIdentity& now = current.input;
  if (was.is_stdin() && now.is_stdin() && was.head_hash == 0) {
    out.push_back("the earlier run read its users from standard input, which it could not check");
  } else {
    // Inputs without a file: standard input and the C++ API's "<users>" (a vector), whose size
    // is the count of users, and "<stream>".
    const bool vector =
        (was.path == "<users>" && now.path == "<users>") || (was.is_stdin() && now.is_stdin());
    const bool stream = was.path == "<stream>" && now.path == "<stream>";
    const std::string what = was.is_stdin() && now.is_stdin() ? "the users on standard input "
                                                                "changed: "
                             : vector                         ? "the users changed: "
                             : stream                         ? "input stream changed: "
                                                              : "input file changed: ";
    Compare(out, "input file changed: path", was.path, now.path);
    Compare(out, what + (vector ? "count" : "size"), std::to_string(was.size),
            std::to_string(now.size));
    Compare(out, what + "modified", Time(was.mtime_ns), Time(now.mtime_ns));
    if (was.size == now.size &&
        (was.head_hash != now.head_hash || was.tail_hash != now.tail_hash)) {
      out.push_back(what + (vector ? "their ids, names or URLs differ" : "its content differs"));
    }
  }
  Compare(out, "filter changed:", recorded.filter, current.filter);
  Compare(out, "--format changed:", recorded.format, current.format);
  Compare(out, "--quality changed:", std::to_string(recorded.quality),
          std::to_string(current.quality));
  const auto on_off = [](bool on) { return std::string(on ? "on" : "off"); };
  Compare(out, "--keep-metadata changed:", on_off(recorded.keep_metadata),
          on_off(current.keep_metadata));
  Compare(out, "--max-pixels changed:", std::to_string(recorded.max_pixels),
          std::to_string(current.max_pixels));
  const auto layout = [](bool fan_out) {
    return std::string(fan_out ? "images in subfolders" : "images in one folder");
  };
  Compare(out, "--fan-out changed:", layout(recorded.fan_out), layout(current.fan_out));
  Compare(out, "--id-field changed:", recorded.fields.id, current.fields.id);
  Compare(out, "--name-field changed:", recorded.fields.name, current.fields.name);
  Compare(out, "--url-field changed:", recorded.fields.image_url, current.fields.image_url);
  return out;
}

std::string ShardMismatch(const Shard& recorded, const Shard& current) {
  if (recorded == current) return "";
  const auto name = [](const Shard& shard) {
    return shard.whole() ? std::string("the whole input") : "shard " + shard.Text();
  };
  return "this folder holds the run of " + name(recorded) + ", and this run takes " +
         name(current) + ": resume each shard in its own folder";
}

}  // namespace pixelmill
