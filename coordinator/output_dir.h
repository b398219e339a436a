// OutputDir: the output folder OUT, claimed for one run. Prepare() creates OUT, locks it against
// a second pixelmill run (flock on OUT/.lock, which holds the holder's pid), refuses to mix a
// new run into an earlier one's output unless told to delete it or to continue it, deletes the
// temporary files a killed run may have left (so none is ever taken for a result), and creates
// OUT/images/. The lock is held as long as the object lives; the files of the run itself
// (manifest.jsonl, rejects.jsonl, run.json, images/) are opened by their writers afterwards.
//
// Move-only. Prepare() blocks (file system calls); call it on the main thread before the input
// is loaded, since loading writes OUT/rejects.jsonl.
#pragma once

#include <string>
#include <utility>

#include "common/status.h"

namespace pixelmill {

// What to do with an earlier run found in the folder.
enum class OutputMode {
  kFresh,      // refuse the folder
  kOverwrite,  // delete the earlier run's files and start afresh
  kResume,     // keep them, to be continued
};

class OutputDir {
 public:
  // Claims `path` for a run. Fails with code "busy" when another run holds the folder's lock,
  // "exists" when it holds an earlier run's output (manifest.jsonl, rejects.jsonl, run.json or
  // files in images/) and `mode` is kFresh, "io" on a file system error. kOverwrite deletes that
  // output (only those files; nothing else of the user's) once the lock is held. Every mode
  // deletes leftover temporary files (IsAtomicTempName) in OUT and OUT/images.
  static Result<OutputDir> Prepare(const std::string& path, OutputMode mode);

  OutputDir(OutputDir&& other) noexcept;
  OutputDir& operator=(OutputDir&& other) noexcept;
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;
  ~OutputDir();  // releases the lock

  // The folder, as given to Prepare().
  const std::string& path() const { return path_; }
  // True when Prepare(kResume) found an earlier run, which was kept.
  bool resuming() const { return resuming_; }

 private:
  OutputDir(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}

  std::string path_;
  int lock_fd_ = -1;  // OUT/.lock, flock()ed; -1 once moved from
  bool resuming_ = false;
};

}  // namespace pixelmill
