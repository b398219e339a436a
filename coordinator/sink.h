// Sink: saves results under the output folder through libuv's thread pool, so the disk never
// blocks the loop. A file is written as an unnamed temporary file (O_TMPFILE) and linked into
// place when complete -- or, where the filesystem lacks O_TMPFILE, written under a temporary
// name and renamed -- so a crash never leaves a half-written image under its final name. Pool
// jobs do whole open/write/publish sequences, a batch of waiting files per job and at most
// kMaxJobs jobs at once, so thousands of images a second cost few thread wake-ups. Manifest lines
// are appended (uv_fs_write) in the order they are given, several waiting lines going out in one
// write. A failed append (disk full, file too large, any error) is final: the manifest is cut
// back to its last complete line, the lines of that write and every line appended later get the
// error, and nothing more is written to it. So a line whose done callback got ok is in the file,
// and a line that got an error is not. No output file is opened through a symlink.
//
// Owned and used by the loop thread only; completion callbacks run on the loop thread.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/image_buffer.h"
#include "common/status.h"

namespace pixelmill {

class Sink {
 public:
  using DoneFn = std::function<void(const Status&)>;

  Sink(uv_loop_t& loop, std::string output_dir);
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink();  // REQUIRES: Close() has completed (or Open() failed / was never called)

  // Creates OUT/images/ and opens OUT/manifest.jsonl for appending, creating it if missing; an
  // existing manifest is kept and appended to. Fails if the name is a symlink. Blocking: call
  // before the loop runs, after OutputDir::Prepare() has claimed OUT.
  Status Open();
  // Writes `bytes` to OUT/<relative_path> via a temporary file and a rename; the buffer is
  // released once written.
  void WriteFile(std::string relative_path, ImageBuffer bytes, DoneFn done);
  // Appends `line` and a newline to the manifest. `done` gets ok once the line is in the file,
  // or an error if it is not (and never will be): the first failed append's, for it and for
  // every line after it. Called from the loop, not from within AppendManifest.
  void AppendManifest(std::string line, DoneFn done);
  // Writes not yet finished (files and manifest lines).
  size_t pending() const { return files_pending_ + queued_.size() + writing_.size(); }
  // Once every pending write has finished, flushes and closes the manifest; `done` gets the
  // first error seen over the sink's life, if any.
  void Close(DoneFn done);

  const std::string& output_dir() const { return output_dir_; }

 private:
  struct FileWrite;
  struct Batch;
  struct Line {
    std::string text;
    DoneFn done;
  };

  void StartBatches();
  void FinishBatch(Batch& batch, int status);
  std::string ManifestPath() const { return output_dir_ + "/manifest.jsonl"; }
  void WriteQueuedLines();
  void WriteRestOfBatch();
  void OnLinesWritten(ssize_t result);
  void StopManifest(const std::string& reason);
  // Runs the done callbacks of the batch in flight: ok for its first `written` lines, `status`
  // for the rest.
  void DeliverLines(size_t written, const Status& status);
  void MaybeFinishClose();
  void Remember(const Status& s);

  uv_loop_t& loop_;
  const std::string output_dir_;
  uv_file manifest_ = -1;
  uv_fs_t manifest_req_{};
  uv_work_t refuse_req_{};               // delivers manifest_error_ to lines appended after it
  uint64_t manifest_size_ = 0;           // bytes of complete lines in the manifest
  Status manifest_error_;                // the failed append; once set, nothing more is written
  static constexpr size_t kMaxJobs = 2;  // pool jobs writing files at once
  static constexpr size_t kMaxFilesPerJob = 64;  // files one job writes
  std::deque<FileWrite> waiting_files_;
  std::unordered_map<Batch*, std::unique_ptr<Batch>> batches_;
  size_t files_pending_ = 0;
  std::deque<Line> queued_;
  std::vector<Line> writing_;  // the batch in flight
  std::string batch_;
  size_t batch_written_ = 0;
  DoneFn on_closed_;
  bool closing_ = false;
  bool delivering_ = false;  // running the done callbacks of a finished write
  Status first_error_;
};

}  // namespace pixelmill
