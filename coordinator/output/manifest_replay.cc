#include "coordinator/output/manifest_replay.h"

#include <sys/stat.h>

#include <algorithm>
#include <cassert>
#include <iterator>
#include <limits>
#include <optional>
#include <vector>

#include "common/base/atomic_file.h"
#include "coordinator/input/id_index.h"
#include "coordinator/output/manifest_reader.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {
namespace {

constexpr uint64_t kNoLine = std::numeric_limits<uint64_t>::max();

IdIndex IndexStore(const UserStore& store) {
  IdIndex index(store.size());
  for (size_t i = 0; i < store.size(); ++i) {
    const bool fresh =
        !index.InsertOrFind(store.key(i), i, [&](uint64_t j) { return store.id(j) == store.id(i); })
             .has_value();
    assert(fresh && "ids in the store are unique");
    (void)fresh;
  }
  return index;
}

// The store index of the user with `id`, if any.
std::optional<uint64_t> FindUser(const IdIndex& index, const UserStore& store, UserId id) {
  return index.Find(IdKey(id), [&](uint64_t user) { return store.id(user) == id; });
}

// The format of an ok entry's image if it is on disk as recorded: `output` is exactly the path
// the store derives ("images/<id>.<ext>"; nothing else is ever trusted as a path) and names a
// regular file of exactly `bytes` bytes. kUnknown otherwise.
OutputFormat ResultOnDisk(const std::string& out_dir, const ManifestRecord& entry, bool fan_out) {
  const size_t dot = entry.output.rfind('.');
  if (dot == std::string_view::npos || !entry.has_bytes) return OutputFormat::kUnknown;
  const OutputFormat format = FormatFromExtension(entry.output.substr(dot + 1));
  if (format == OutputFormat::kUnknown) return OutputFormat::kUnknown;
  const std::string expected = OutputLayout::ImagePath(entry.id.view(), format, fan_out);
  if (entry.output != expected) return OutputFormat::kUnknown;
  struct stat st;
  const std::string path = OutputLayout(out_dir).Path(expected);
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != entry.bytes) {
    return OutputFormat::kUnknown;
  }
  return format;
}

// Applies one entry to its user; a later entry of the same user overrides it.
void Apply(const std::string& out_dir, const ManifestRecord& entry, bool retry_failed, bool fan_out,
           size_t user, UserStore& store) {
  if (entry.status == "ok") {
    const OutputFormat format = ResultOnDisk(out_dir, entry, fan_out);
    const bool intact = format != OutputFormat::kUnknown;
    store.SetOutcome(user, intact ? UserStatus::kSkipped : UserStatus::kPending, format);
  } else if (entry.status == "failed" && !retry_failed) {
    store.SetOutcome(user, UserStatus::kFailed, OutputFormat::kUnknown);
  } else {
    store.SetOutcome(user, UserStatus::kPending, OutputFormat::kUnknown);
  }
}

// Counts how the users with a line ended up.
void CountOutcomes(const UserStore& store, const std::vector<bool>& has_line, ReplayStats& stats) {
  for (size_t i = 0; i < store.size(); ++i) {
    if (!has_line[i]) continue;
    switch (store.status(i)) {
      case UserStatus::kSkipped:
        ++stats.skipped;
        break;
      case UserStatus::kFailed:
        ++stats.failed_kept;
        break;
      default:
        ++stats.redo;
    }
  }
}

}  // namespace

Result<ReplayStats> ReplayManifest(const std::string& out_dir, UserStore& store, bool retry_failed,
                                   bool fan_out) {
  ReplayStats stats;
  Result<ManifestReader> reader =
      ManifestReader::Open(OutputLayout(out_dir).manifest(), /*writable=*/true);
  if (!reader.ok() && reader.status().code() == Code::kMissing) return stats;
  if (!reader.ok()) return reader.status();
  const IdIndex index = IndexStore(store);
  std::vector<bool> has_line(store.size(), false);
  uint64_t good_end = 0;        // the end of the last entry, newline included
  uint64_t lines_after = 0;     // complete or not, since that entry
  uint64_t complete_lines = 0;  // with their newline
  ManifestLine last;
  Status read = reader->ForEach([&](const ManifestLine& line, const ManifestRecord* entry) {
    last = line;
    complete_lines += line.terminated;
    if (entry == nullptr) {
      ++lines_after;
      ++stats.bad_lines;
      return true;
    }
    good_end = line.offset + line.size + 1;
    lines_after = 0;
    const std::optional<uint64_t> user = FindUser(index, store, entry->id.view());
    if (!user.has_value()) {
      ++stats.unknown_ids;
      return true;
    }
    if (has_line[*user]) stats.compact = false;
    has_line[*user] = true;
    Apply(out_dir, *entry, retry_failed, fan_out, *user, store);
    return true;
  });
  if (!read.ok()) return read;
  if (lines_after > 0) {
    // A crash mid-append leaves a torn end; the users on it are redone.
    const uint64_t size = last.offset + last.size + (last.terminated ? 1 : 0);
    if (Status s = reader->Truncate(good_end); !s.ok()) return s;
    stats.torn_cut = lines_after;
    stats.torn_bytes = size - good_end;
    stats.bad_lines -= lines_after;
    complete_lines -= last.terminated ? lines_after : lines_after - 1;
  }
  stats.lines = complete_lines;
  if (stats.unknown_ids > 0 || stats.bad_lines > 0) stats.compact = false;
  CountOutcomes(store, has_line, stats);
  return stats;
}

Status CompactManifest(const std::string& out_dir, const UserStore& store) {
  const std::string path = OutputLayout(out_dir).manifest();
  std::vector<uint64_t> kept;  // offsets of the lines to keep
  uint64_t lines = 0;
  {
    Result<ManifestReader> reader = ManifestReader::Open(path, /*writable=*/false);
    if (!reader.ok()) return reader.status();
    const IdIndex index = IndexStore(store);
    std::vector<uint64_t> last(store.size(), kNoLine);
    Status read = reader->ForEach([&](const ManifestLine& line, const ManifestRecord* entry) {
      ++lines;
      if (entry == nullptr) return true;
      if (const std::optional<uint64_t> user = FindUser(index, store, entry->id.view())) {
        last[*user] = line.offset;
      }
      return true;
    });
    if (!read.ok()) return read;
    std::copy_if(last.begin(), last.end(), std::back_inserter(kept),
                 [](uint64_t offset) { return offset != kNoLine; });
  }
  if (kept.size() == lines) return Status::Ok();  // every line is some user's last: compact
  std::sort(kept.begin(), kept.end());

  Result<ManifestReader> reader = ManifestReader::Open(path, /*writable=*/false);
  if (!reader.ok()) return reader.status();
  Result<AtomicFileWriter> writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer.status();
  auto next = kept.begin();
  Status copied;
  Status read = reader->ForEach([&](const ManifestLine& line, const ManifestRecord*) {
    if (next == kept.end()) return false;
    if (line.offset != *next) return true;
    ++next;
    copied = writer->Append(line.text);
    if (copied.ok()) copied = writer->Append("\n");
    return copied.ok() && next != kept.end();
  });
  if (!read.ok()) return read;
  if (!copied.ok()) return copied;
  if (next != kept.end()) return Status::Error(Code::kIo, path + " changed while it was compacted");
  return writer->Commit(/*sync=*/true);
}

}  // namespace pixelmill
