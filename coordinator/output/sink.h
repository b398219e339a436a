// Sink: commits results under the output folder (layout and contract:
// coordinator/output/README.md). It holds one rule, the manifest's: a user's line is appended
// only once its image is complete under its final name (and, with `durable`, on disk), so a
// crash at any moment never leaves a line pointing at a missing or partial file. The image is
// written by an ImageWriter (image_writer.h), the line by a ManifestAppender
// (manifest_appender.h); neither blocks the loop.
//
// Owned and used by the loop thread only; completion callbacks run on the loop thread, never
// from within the call that queued them.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/base/status.h"
#include "common/image/image_buffer.h"
#include "coordinator/output/image_writer.h"
#include "coordinator/output/manifest_appender.h"

namespace pixelmill {

struct SinkOptions {
  std::string output_dir;
  bool durable = false;             // fsync each image and its folder before its line
  uint64_t sync_interval_ms = 100;  // fdatasync the manifest at least this often while lines come
  size_t sync_lines = 1000;         // ... or after this many lines
  // TEST-ONLY, 0 otherwise: each pool job's files complete this many ms late (a loop timer, so
  // the loop is never blocked), as on a slow disk -- the verdict's "disk" case on a real run.
  // No flag sets it: only tests, through Options::commit_delay_ms_for_tests.
  uint64_t commit_delay_ms_for_tests = 0;
};

// How a Commit ended.
enum class CommitResult {
  kCommitted,    // the image is in place and its line is in the manifest
  kImageFailed,  // the image could not be written; no line was appended (status says why:
                 // code kFull when the output is full -- no space, quota, file-size limit)
  kLineFailed,   // the image is in place but the manifest refused the line (final, see above)
};

class Sink {
 public:
  using DoneFn = std::function<void(const Status&)>;
  using CommitFn = std::function<void(CommitResult, const Status&)>;
  using LineFn = std::function<std::string(const ImageWriter::Linked&)>;

  Sink(uv_loop_t& loop, SinkOptions options);
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() = default;  // REQUIRES: Close() has completed (or Open() failed / was never called)

  // Creates OUT/images/ and opens OUT/manifest.jsonl for appending, creating it if missing; an
  // existing manifest is kept and appended to. Fails if the name is a symlink. Blocking: call
  // before the loop runs, after OutputDir has claimed OUT.
  Status Open();
  // The commit step: writes `bytes` to OUT/<relative_path> (complete, then named), releases the
  // buffer, then appends `line`. `done` runs once, with how far it got.
  // REQUIRES: relative_path is OutputLayout::ImagePath's "images/<name>".
  void Commit(std::string relative_path, ImageBuffer bytes, std::string line, CommitFn done);
  // The commit step of a user whose image is another user's (deduplicated): OUT/<to> becomes
  // the image OUT/<from> is (ImageWriter::Link), then the line `line` makes from its size and
  // dimensions is appended. `done` as Commit()'s.
  void CommitLink(std::string from, std::string to, LineFn line, CommitFn done);
  // Appends `line` (a user with no image) to the manifest: ManifestAppender::Append.
  void AppendManifest(std::string line, DoneFn done);
  // Writes not yet finished (images and manifest lines).
  size_t pending() const { return images_.pending() + manifest_.pending(); }
  // Images waiting for a free writer (every pool job busy): results waiting for the disk.
  size_t files_waiting() const { return images_.waiting(); }
  // Lines appended since the sink opened, and fdatasyncs of the manifest done.
  uint64_t lines_written() const { return manifest_.lines_written(); }
  uint64_t syncs() const { return manifest_.syncs(); }
  // Once every pending write has finished, flushes and closes the manifest; `done` gets the
  // manifest's first error over the sink's life, if any (a failed image is told to its
  // Commit's callback only: it is that user's failure, not the run's).
  void Close(DoneFn done);

 private:
  // Appends the line of an image now in place; `done` as Commit()'s.
  void AppendCommitted(std::string line, CommitFn done);

  ImageWriter images_;
  ManifestAppender manifest_;
};

}  // namespace pixelmill
