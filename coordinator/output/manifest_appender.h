// ManifestAppender: appends lines to OUT/manifest.jsonl without blocking the loop. Lines are
// written (uv_fs_write) in the order they are given, the lines waiting when a write starts in
// that one write; fdatasync follows every sync_interval_ms or sync_lines lines, and fsync at
// close. A failed append (disk full, file too large, any error) is final: the manifest is cut
// back to its last complete line, the lines of that write and every line appended later get the
// error, and nothing more is written to it. So a line whose done callback got ok is in the
// file, and a line that got an error is not. The file is never opened through a symlink.
//
// Owned and used by the loop thread only; completion callbacks run on the loop thread, never
// from within the call that queued them.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace pixelmill {

class ManifestAppender {
 public:
  using DoneFn = std::function<void(const Status&)>;

  // Appends to `path`, syncing every `sync_interval_ms` or `sync_lines` lines.
  ManifestAppender(uv_loop_t& loop, std::string path, uint64_t sync_interval_ms, size_t sync_lines);
  ManifestAppender(const ManifestAppender&) = delete;
  ManifestAppender& operator=(const ManifestAppender&) = delete;
  ~ManifestAppender();  // REQUIRES: Close() has completed (or Open() failed / was never called)

  // Opens the manifest for appending, creating it if missing; an existing manifest is kept and
  // appended to. Fails if the name is a symlink. Blocking: call before the loop runs.
  Status Open();
  // Appends `line` and a newline. `done` gets ok once the line is in the file, or an error if
  // it is not (and never will be): the first failed append's, for it and every line after it.
  void Append(std::string line, DoneFn done);
  // Lines not yet written, plus a sync in flight.
  size_t pending() const { return queued_.size() + writing_.size() + (syncing_ ? 1 : 0); }
  // Lines appended since Open(), and fdatasyncs done.
  uint64_t lines_written() const { return lines_written_; }
  uint64_t syncs() const { return syncs_; }
  // Once every line is written, fsyncs and closes the file; `done` gets the first error over
  // the appender's life, if any.
  void Close(DoneFn done);

 private:
  struct Line {
    std::string text;
    DoneFn done;
  };

  void MaybeSync(bool now);
  void OnSynced(ssize_t result);
  void WriteQueuedLines();
  void WriteRest();
  void OnLinesWritten(ssize_t result);
  void Stop(const std::string& reason);
  // Runs the done callbacks of the write in flight: ok for its first `written` lines, `status`
  // for the rest.
  void DeliverLines(size_t written, const Status& status);
  void MaybeFinishClose();
  void Remember(const Status& s);

  uv_loop_t& loop_;
  const std::string path_;
  const uint64_t sync_interval_ms_;
  const size_t sync_lines_;
  uv_file fd_ = -1;
  uv_fs_t write_req_{};
  uv_work_t refuse_req_{};     // delivers error_ to lines appended after it
  uint64_t size_ = 0;          // bytes of complete lines in the file
  Status error_;               // the failed append; once set, nothing more is written
  std::deque<Line> queued_;    // waiting for the write in flight to finish
  std::vector<Line> writing_;  // the lines of the write in flight
  std::string write_;          // their bytes
  size_t write_done_ = 0;      // bytes of write_ in the file
  uv_fs_t sync_req_{};
  uv_timer_t sync_timer_{};  // syncs the last lines of a burst
  uint64_t lines_written_ = 0, synced_lines_ = 0, syncs_ = 0;
  uint64_t last_sync_ms_ = 0;
  bool syncing_ = false, timer_open_ = false;
  DoneFn on_closed_;
  bool closing_ = false;
  bool delivering_ = false;  // running the done callbacks of a finished write
  Status first_error_;
};

}  // namespace pixelmill
