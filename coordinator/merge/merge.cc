#include "coordinator/merge/merge.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "common/base/atomic_file.h"
#include "coordinator/merge/shard_set.h"
#include "coordinator/output/manifest_reader.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what, const std::string& path, int error) {
  return Status::Error(Code::kIo, what + " " + path + ": " + std::strerror(error));
}

// ALL/.lock, held (flock) while the merge runs.
class MergeLock {
 public:
  ~MergeLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Take(const std::string& out_dir) {
    const std::string path = OutputLayout(out_dir).lock();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno("cannot open", path, errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Error(Code::kIo, out_dir + " is in use (" + path +
                                          " is locked): another merge or run is writing it");
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

// Refuses an ALL that is one of the shard folders or holds a run of its own (its run.json).
Status CheckOutput(const std::string& out_dir, const std::vector<std::string>& shards) {
  if (out_dir.empty()) return Status::Error(Code::kUsage, "--output ALL is required");
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(out_dir, ec);
  for (const std::string& shard : shards) {
    if (!ec && fs::weakly_canonical(shard, ec) == out) {
      return Status::Error(Code::kUsage, "--output " + out_dir + " is one of the shard folders (" +
                                             shard + "): merge into another one");
    }
  }
  if (fs::exists(OutputLayout(out_dir).run_state(), ec)) {
    return Status::Error(Code::kUsage, "--output " + out_dir +
                                           " holds a run of its own (run.json): merge into "
                                           "another folder");
  }
  return Status::Ok();
}

// A folder open for the merge: every image is reached from its descriptor, never by its
// whole path again (a million lookups of a long path were most of a merge's time).
class Folder {
 public:
  Folder() = default;
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;
  ~Folder() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Opens `path` (a symlink there is refused).
  Status Open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd_ < 0) return Errno("cannot open", path, errno);
    path_ = path;
    return Status::Ok();
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// The size of the regular file `name` in `folder` (never through a symlink), and its inode;
// -1 when there is none.
int64_t FileSizeAt(const Folder& folder, const std::string& name, ino_t* inode = nullptr) {
  struct stat st;
  if (::fstatat(folder.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
    return -1;
  }
  if (inode != nullptr) *inode = st.st_ino;
  return static_cast<int64_t>(st.st_size);
}

// Copies `name` of `from` to `to_name` of `to` (a temporary name renamed into place): a link or
// a move across file systems.
Status CopyAt(const Folder& from, const std::string& name, const Folder& to,
              const std::string& to_name) {
  const std::string source = from.path() + "/" + name, target = to.path() + "/" + to_name;
  const std::string temp = target + ".merge.tmp";
  std::error_code ec;
  fs::copy_file(source, temp, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::Error(Code::kIo, "cannot copy " + source + ": " + ec.message());
  if (::rename(temp.c_str(), target.c_str()) != 0) return Errno("cannot name", target, errno);
  return Status::Ok();
}

// Puts image `name` of `from` (`bytes` long) at `to_name` in `to`, hard-linked or moved as `how`
// says; a rerun finds it there already. A link or a rename names the file whole at once.
Status PlaceImage(const Folder& from, const std::string& name, const Folder& to,
                  const std::string& to_name, uint64_t bytes, ImagePlacement how) {
  const std::string shown = from.path() + "/" + name;
  if (how == ImagePlacement::kMove) {
    if (::renameat(from.fd(), name.c_str(), to.fd(), to_name.c_str()) == 0) return Status::Ok();
    const int error = errno;
    if (error == ENOENT && FileSizeAt(to, to_name) == static_cast<int64_t>(bytes)) {
      return Status::Ok();  // moved by an earlier merge
    }
    if (error != EXDEV) return Errno("cannot move", shown, error);
    Status copied = CopyAt(from, name, to, to_name);
    if (copied.ok()) ::unlinkat(from.fd(), name.c_str(), 0);
    return copied;
  }
  for (int tries = 0; tries < 2; ++tries) {
    if (::linkat(from.fd(), name.c_str(), to.fd(), to_name.c_str(), 0) == 0) return Status::Ok();
    const int error = errno;
    if (error == EXDEV || error == EMLINK || error == EPERM) return CopyAt(from, name, to, to_name);
    if (error != EEXIST) return Errno("cannot link", shown, error);
    ino_t source = 0, target = 0;
    if (FileSizeAt(from, name, &source) >= 0 && FileSizeAt(to, to_name, &target) >= 0 &&
        source == target) {
      return Status::Ok();  // linked by an earlier merge
    }
    ::unlinkat(to.fd(), to_name.c_str(), 0);  // another file: an earlier merge of other shards
  }
  return Errno("cannot link", shown, EEXIST);
}

// An ok line whose image is not as it says: the shard must redo it.
Status BadImage(const std::string& named, const ManifestRecord& record, const std::string& path) {
  return Status::Error(Code::kBadState, named + ": the image of user " + IdText(record.id.view()) +
                                            ", " + path + ", is missing or not the " +
                                            std::to_string(record.bytes) +
                                            " bytes its line says: resume the shard (--resume "
                                            "redoes it), then merge again");
}

class Merger {
 public:
  Merger(const MergeOptions& options, std::vector<ShardFolder> shards)
      : options_(options), shards_(std::move(shards)) {
    std::error_code ec;
    out_abs_ = fs::absolute(options_.output, ec).lexically_normal();
    for (const ShardFolder& shard : shards_) total_users_ += shard.state.users;
    fan_out_ = total_users_ > OutputLayout::kFanOutAbove;
  }

  Result<MergeFigures> Run() {
    const auto start = std::chrono::steady_clock::now();
    const ShardFolder& first = shards_.front();
    figures_.input = first.state.input.path;
    figures_.filter = first.state.filter;
    figures_.input_records = first.state.input_records;
    figures_.images = options_.images == ImagePlacement::kLeave  ? "left"
                      : options_.images == ImagePlacement::kLink ? "linked"
                                                                 : "moved";
    ids_.reserve(total_users_);
    if (options_.images != ImagePlacement::kLeave) {
      const std::string images = OutputLayout(out()).images();
      if (::mkdir(images.c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno("cannot create", images, errno);
      }
      if (Status s = all_images_.Open(images); !s.ok()) return s;
    }
    Result<AtomicFileWriter> manifest = AtomicFileWriter::Create(OutputLayout(out()).manifest());
    if (!manifest.ok()) return manifest.status();
    for (const ShardFolder& shard : shards_) {
      if (Status s = AddShard(shard, manifest.value()); !s.ok()) return s;
    }
    if (Status s = MergeRejects(); !s.ok()) return s;
    figures_.merge_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (Status s = WriteFileAtomically(OutputLayout(out()).Path("report.json"),
                                       MergeReportJson(figures_) + "\n", /*sync=*/true);
        !s.ok()) {
      return s;
    }
    if (Status s = manifest->Commit(/*sync=*/true); !s.ok()) return s;
    return figures_;
  }

 private:
  const std::string& out() const { return options_.output; }

  // Appends shard `shard`'s lines, checked and with their paths made ALL's.
  Status AddShard(const ShardFolder& shard, AtomicFileWriter& manifest) {
    ShardFigures& row = figures_.shards.emplace_back();
    row.shard = shard.state.shard.Text();
    row.folder = shard.path;
    row.started_ns = shard.state.started_ns;
    row.finished_ns = shard.state.finished_ns;
    const std::string named = "shard " + row.shard + " (" + shard.path + ")";
    Result<ManifestReader> reader =
        ManifestReader::Open(OutputLayout(shard.path).manifest(), /*writable=*/false);
    if (!reader.ok()) return reader.status();
    Folder images;
    if (Status s = images.Open(OutputLayout(shard.path).images()); !s.ok()) return s;
    // The shard's folder from ALL, e.g. "../shard-0/", for the images left where they are.
    std::error_code ec;
    const std::string prefix =
        fs::absolute(shard.path, ec).lexically_normal().lexically_relative(out_abs_).string() + "/";
    Status failure;
    std::string chunk;
    Status read = reader->ForEach([&](const ManifestLine& line, const ManifestRecord* parsed) {
      if (parsed == nullptr) {
        failure = Status::Error(Code::kBadState, named + ": manifest.jsonl has a line at byte " +
                                                     std::to_string(line.offset) +
                                                     " that is not a record");
        return false;
      }
      if (!ids_.insert(IdText(parsed->id.view())).second) {
        failure = Status::Error(Code::kBadState, named + ": id " + IdText(parsed->id.view()) +
                                                     " has a line in an earlier shard too");
        return false;
      }
      ManifestRecord record = *parsed;
      if (record.ok()) {
        failure = PlaceOk(shard, images, prefix, named, record);
        if (!failure.ok()) return false;
      }
      figures_.Count(row, record);
      chunk += ToLine(record);
      chunk += '\n';
      if (chunk.size() >= (1 << 20)) {
        failure = manifest.Append(chunk);
        chunk.clear();
      }
      return failure.ok();
    });
    if (!read.ok()) return read;
    if (!failure.ok()) return failure;
    if (Status s = manifest.Append(chunk); !s.ok()) return s;
    if (row.users != shard.state.users) {
      return Status::Error(Code::kBadState,
                           named + ": manifest.jsonl has " + std::to_string(row.users) +
                               " line(s) for the shard's " + std::to_string(shard.state.users) +
                               " users: resume it (--resume), then merge again");
    }
    return Status::Ok();
  }

  // Checks an ok line's image (in `images`, shard `shard`'s images/ folder) and names it from
  // ALL: left where it is (`prefix`: the shard's folder from ALL), linked or moved there.
  Status PlaceOk(const ShardFolder& shard, const Folder& images, const std::string& prefix,
                 const std::string& named, ManifestRecord& record) {
    const std::string images_prefix = std::string(OutputLayout::kImages) + "/";
    const std::string expected =
        OutputLayout::ImagePath(record.id.view(), record.format, shard.state.fan_out);
    const std::string from = OutputLayout(shard.path).Path(record.output);
    if (record.output != expected) return BadImage(named, record, from);
    const std::string name = expected.substr(images_prefix.size());
    const int64_t size = FileSizeAt(images, name);
    if (options_.images == ImagePlacement::kLeave) {
      if (size != static_cast<int64_t>(record.bytes)) return BadImage(named, record, from);
      record.output = prefix + record.output;
      return Status::Ok();
    }
    const std::string rel = OutputLayout::ImagePath(record.id.view(), record.format, fan_out_);
    const std::string to = rel.substr(images_prefix.size());
    const bool moved_before = options_.images == ImagePlacement::kMove && size < 0 &&
                              FileSizeAt(all_images_, to) == static_cast<int64_t>(record.bytes);
    if (!moved_before && size != static_cast<int64_t>(record.bytes)) {
      return BadImage(named, record, from);
    }
    if (Status s = MakeFolderOf(to); !s.ok()) return s;
    if (Status s = PlaceImage(images, name, all_images_, to, record.bytes, options_.images);
        !s.ok()) {
      return s;
    }
    record.output = rel;
    return Status::Ok();
  }

  // Makes the folders of `name` (relative to ALL/images) once each.
  Status MakeFolderOf(const std::string& name) {
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      const std::string folder = name.substr(0, slash);
      if (made_.count(folder) > 0) continue;
      if (::mkdirat(all_images_.fd(), folder.c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno("cannot create", all_images_.path() + "/" + folder, errno);
      }
      made_.insert(folder);
    }
    return Status::Ok();
  }

  // ALL/rejects.jsonl: every shard's, in shard order (bad records are shard 0's; a duplicate
  // id its own shard's). None when no shard skipped a record.
  Status MergeRejects() {
    std::string all;
    for (const ShardFolder& shard : shards_) {
      const std::string path = OutputLayout(shard.path).rejects();
      std::error_code ec;
      if (!fs::exists(path, ec)) continue;
      Result<ManifestReader> reader = ManifestReader::Open(path, /*writable=*/false);
      if (!reader.ok()) return reader.status();
      Status read = reader->ForEach([&](const ManifestLine& line, const ManifestRecord*) {
        all.append(line.text);
        all += '\n';
        ++figures_.bad_records;
        return true;
      });
      if (!read.ok()) return read;
    }
    const std::string path = OutputLayout(out()).rejects();
    if (all.empty()) {
      ::unlink(path.c_str());  // an earlier merge's, of other shards
      return Status::Ok();
    }
    return WriteFileAtomically(path, all, /*sync=*/true);
  }

  const MergeOptions& options_;
  std::vector<ShardFolder> shards_;
  fs::path out_abs_;
  uint64_t total_users_ = 0;
  bool fan_out_ = false;
  MergeFigures figures_;
  std::unordered_set<std::string> ids_;   // IdText of each id seen
  std::unordered_set<std::string> made_;  // folders made in ALL/images
  Folder all_images_;                     // ALL/images, with --link or --move
};

}  // namespace

Result<MergeFigures> MergeShards(const MergeOptions& options) {
  if (Status s = CheckOutput(options.output, options.shards); !s.ok()) return s;
  Result<std::vector<ShardFolder>> shards = ReadShardSet(options.shards);
  if (!shards.ok()) return shards.status();
  std::error_code ec;
  fs::create_directories(options.output, ec);
  if (ec) {
    return Status::Error(Code::kIo, "cannot create " + options.output + ": " + ec.message());
  }
  MergeLock lock;
  if (Status s = lock.Take(options.output); !s.ok()) return s;
  return Merger(options, std::move(shards).value()).Run();
}

}  // namespace pixelmill
