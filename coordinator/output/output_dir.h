// OutputDir: the output folder OUT (layout and contract: coordinator/output/README.md), claimed
// for one run, in two steps so that a run refused before it starts leaves the folder as found.
//   - Claim() creates OUT if needed, locks it against a second pixelmill run (flock on
//     OUT/.lock, which holds the holder's pid), refuses to mix a new run into an earlier one's
//     output unless told to delete it or to continue it, and deletes the temporary files a
//     killed run may have left (so none is ever taken for a result). Nothing else changes.
//   - Begin(), once everything that can refuse the run has been checked (options, input,
//     --bind, resume), deletes the earlier run with kOverwrite and creates OUT/images/.
// An OutputDir destroyed before Begin() removes the .lock it created and OUT itself if it made
// it (and it is empty). The lock is held as long as the object lives; the files of the run
// (manifest.jsonl, rejects.jsonl, run.json, images/) are opened by their writers afterwards.
//
// Move-only. Claim() and Begin() block (file system calls); call them on the main thread.
#pragma once

#include <filesystem>
#include <string>
#include <utility>

#include "common/base/status.h"

namespace pixelmill {

// What to do with an earlier run found in the folder.
enum class OutputMode {
  kFresh,      // refuse the folder
  kOverwrite,  // delete the earlier run's files and start afresh
  kResume,     // keep them, to be continued
};

class OutputDir {
 public:
  // Claims `path` for a run. Fails with code kBusy when another run holds the folder's lock,
  // kExists when it holds an earlier run's output (manifest.jsonl, rejects.jsonl, run.json or
  // files in images/) and `mode` is kFresh, kIo on a file system error. Deletes leftover
  // temporary files (IsAtomicTempName) in OUT and OUT/images.
  static Result<OutputDir> Claim(const std::string& path, OutputMode mode);
  // Starts the run in the claimed folder: kOverwrite deletes the earlier run's output (only
  // those files; nothing else of the user's); creates OUT/images. REQUIRES: not begun.
  Status Begin();
  // Claim() then Begin().
  static Result<OutputDir> Prepare(const std::string& path, OutputMode mode);

  OutputDir(OutputDir&& other) noexcept;
  OutputDir& operator=(OutputDir&& other) noexcept;
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;
  ~OutputDir();  // releases the lock

  // The folder, as given to Prepare().
  const std::string& path() const { return path_; }
  // True when Claim(kResume) found an earlier run, which is kept.
  bool resuming() const { return earlier_ && mode_ == OutputMode::kResume; }

 private:
  OutputDir(std::string path, OutputMode mode) : path_(std::move(path)), mode_(mode) {}
  // Undoes what Claim() made when the run never began; closes the lock.
  void Release();

  std::string path_;
  OutputMode mode_ = OutputMode::kFresh;
  int lock_fd_ = -1;      // OUT/.lock, flock()ed; -1 once moved from
  bool earlier_ = false;  // OUT held an earlier run's output
  bool begun_ = false;
  // Made by Claim(), removed if the run never begins: the .lock, and the folders from
  // made_from_ (the outermost one created; empty if OUT existed) down to OUT.
  bool made_lock_ = false;
  std::filesystem::path made_from_;
};

// Checks a file the run writes besides its output (--report, --progress-file), before the
// folder is claimed: refused (code kUsage, the message names `flag`) when `path` names one of
// the run's own files after links are resolved (OUT itself, manifest.jsonl, rejects.jsonl,
// run.json, .lock, anything in images/, or a hard link to one of them), or, with
// `regular_only`, anything that exists and is not a regular file (a device, a pipe, a folder).
// Its folder may be missing (the writer makes it) if what exists of it is writable. Returns the
// path to write, links resolved.
Result<std::string> CheckSideFile(const std::string& flag, const std::string& path,
                                  const std::string& out_dir, bool regular_only);

}  // namespace pixelmill
