// OutputLayout: the names of everything a run keeps in its output folder OUT, spelled here and
// nowhere else (the contract is coordinator/output/README.md):
//   OUT/.lock            held (flock) by the run using the folder; holds its pid
//   OUT/manifest.jsonl   one line per result (manifest.h)
//   OUT/rejects.jsonl    the input records that were skipped
//   OUT/run.json         the run's identity, for --resume (coordinator/engine/run_state.h)
//   OUT/images/<id>.<ext>  the users' images; fanned out (--fan-out),
//   OUT/images/ab/cd/<id>.<ext>  in 65,536 subfolders by a hash of the id (FanOutFolder);
//                          <id> is IdFileStem: a string id's unsafe bytes written %XX
// Temporary files (common/base/atomic_file.h, IsAtomicTempName) appear beside the file they
// become and are never taken for a result.
//
// A value; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/image/image_format.h"
#include "coordinator/input/shard.h"

namespace pixelmill {

class OutputLayout {
 public:
  // The names of the run's files, relative to OUT.
  static constexpr std::string_view kLock = ".lock";
  static constexpr std::string_view kManifest = "manifest.jsonl";
  static constexpr std::string_view kRejects = "rejects.jsonl";
  static constexpr std::string_view kRunState = "run.json";
  static constexpr std::string_view kImages = "images";
  // The files a run leaves directly in OUT (images/ apart).
  static constexpr std::string_view kRunFiles[] = {kManifest, kRejects, kRunState};

  // Runs above this many users fan their images out under --fan-out auto.
  static constexpr uint64_t kFanOutAbove = 100'000;

  // "images/<id>.<ext>", or fanned out "images/ab/cd/<id>.<ext>": where a user's image in
  // `format` goes, relative to OUT, as the manifest names it. The only path ever derived for an
  // image.
  static std::string ImagePath(UserId id, OutputFormat format, bool fan_out) {
    std::string path(kImages);
    path += '/';
    if (fan_out) {
      path += FanOutFolder(id);
      path += '/';
    }
    path += IdFileStem(id);
    path += '.';
    path += ExtensionFor(format);
    return path;
  }

  explicit OutputLayout(std::string out_dir) : out_dir_(std::move(out_dir)) {}

  const std::string& out_dir() const { return out_dir_; }
  // `name` (one of the names above, or an ImagePath) under OUT.
  std::string Path(std::string_view name) const {
    std::string path = out_dir_;
    path += '/';
    path += name;
    return path;
  }
  std::string lock() const { return Path(kLock); }
  std::string manifest() const { return Path(kManifest); }
  std::string rejects() const { return Path(kRejects); }
  std::string run_state() const { return Path(kRunState); }
  std::string images() const { return Path(kImages); }

 private:
  std::string out_dir_;
};

}  // namespace pixelmill
