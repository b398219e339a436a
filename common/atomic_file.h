// Atomic file writes: a file appears under its final name complete, or not at all. The bytes go
// to a temporary file with an unpredictable name, created exclusively (O_EXCL, so a planted file
// or symlink under that name is never written through) in the target's folder, which is then
// renamed over the target. rename() replaces a symlink at the target itself, never what it
// points to. WriteAll is the one EINTR-safe write loop for the code base.
//
// Plain blocking functions without shared state: any thread may call them.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace pixelmill {

// Writes all of `bytes` to `fd`, repeating after EINTR and short writes. A write that makes no
// progress (returns 0) is an error. `path` names the file in the error message.
Status WriteAll(int fd, std::string_view bytes, const std::string& path);

// Replaces `path` by a file holding `bytes` (mode 0644 less the umask): writes a fresh temporary
// file in the same folder, fsyncs it and the folder when `sync`, and renames it over `path`. On
// any failure the temporary file is removed and `path` is unchanged. Code "io" on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes, bool sync);

// fsyncs `folder` itself, so names created or renamed in it survive a power loss.
Status SyncFolder(const std::string& folder);

}  // namespace pixelmill
