// Atomic file writes: a file appears under its final name complete, or not at all. The bytes go
// to a temporary file with an unpredictable name, created exclusively (O_EXCL, so a planted file
// or symlink under that name is never written through) in the target's folder, which is then
// renamed over the target. rename() replaces a symlink at the target itself, never what it
// points to. WriteAll is the one EINTR-safe write loop for the code base. AtomicFileWriter does
// the same for content too large to hold in memory, streamed in pieces.
//
// Plain blocking functions without shared state: any thread may call them. An AtomicFileWriter
// belongs to one thread at a time.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/base/status.h"

namespace pixelmill {

// Errors have code kFull when there is no room (ENOSPC, EDQUOT, EFBIG, a write that makes no
// progress), kIo otherwise.
//
// Writes all of `bytes` to `fd`, repeating after EINTR and short writes. A write that makes no
// progress (returns 0) is an error. `path` names the file in the error message.
Status WriteAll(int fd, std::string_view bytes, const std::string& path);

// Replaces `path` by a file holding `bytes` (mode 0644 less the umask): writes a fresh temporary
// file in the same folder, fsyncs it and the folder when `sync`, and renames it over `path`. On
// any failure the temporary file is removed and `path` is unchanged. Code kIo on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes, bool sync);

// fsyncs `folder` itself, so names created or renamed in it survive a power loss.
Status SyncFolder(const std::string& folder);

// WriteFileAtomically and SyncFolder for a folder open as `dir_fd` (shown as `folder` in
// messages), with `name` a plain name in it: whatever later replaces the folder's path (a
// symlink swapped in), the file is written in the folder that was opened.
Status WriteFileAtomicallyAt(int dir_fd, const std::string& folder, const std::string& name,
                             std::string_view bytes, bool sync);
Status SyncFolderAt(int dir_fd, const std::string& folder);

// True for the names of this file's temporary files, ".<name>.<16 hex digits>.tmp": what a
// process killed mid-write leaves behind, and nothing else.
bool IsAtomicTempName(std::string_view name);

// A replacement for `path` written piece by piece: Create() makes the temporary file, Append()
// adds bytes (buffered), Commit() renames it over `path`. Until Commit() succeeds `path` is
// unchanged; an uncommitted writer removes its temporary file when destroyed. Move-only.
class AtomicFileWriter {
 public:
  // Creates a fresh temporary file next to `path`. Code kIo on failure.
  static Result<AtomicFileWriter> Create(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Appends `bytes`. REQUIRES: not committed.
  Status Append(std::string_view bytes);
  // Writes what is buffered, fsyncs the file and (after the rename) its folder when `sync`, and
  // renames the file over `path`. On failure the temporary file is removed. The writer is spent
  // afterwards either way.
  Status Commit(bool sync);

  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFileWriter(std::string path, std::string folder, std::string temp_path, int fd)
      : path_(std::move(path)),
        folder_(std::move(folder)),
        temp_path_(std::move(temp_path)),
        fd_(fd) {}
  Status Flush();

  std::string path_, folder_, temp_path_;
  int fd_ = -1;  // the temporary file; -1 once committed or moved from
  std::string buffer_;
};

}  // namespace pixelmill
