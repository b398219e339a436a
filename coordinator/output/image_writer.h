// ImageWriter: writes the users' images into OUT/images through libuv's thread pool, so the
// disk never blocks the loop. Each image appears under its final name complete, or not at all:
// it is written as an unnamed temporary file (O_TMPFILE) linked into place when complete -- or,
// where the filesystem lacks O_TMPFILE, under a temporary name (common/base/atomic_file.h) that
// is renamed; a killed run's leftovers are deleted by the next run's OutputDir::Claim.
//
// A pool job writes up to kMaxFilesPerJob waiting images, at most kMaxJobs jobs at once. With
// `durable`, each image is fsynced before it is named and the folder once per job after, before
// any of the job's images is reported written. Every image is written through a descriptor of
// OUT/images opened once (O_NOFOLLOW), so a symlink swapped in for the folder during the run is
// never written through. Link() gives an image already in place a second name the same way: a
// hard link made under a temporary name and renamed into place, or a copy where links fail. The
// folder and file names are OutputLayout's (output_layout.h).
//
// Owned and used by the loop thread only; completion callbacks run on the loop thread, never
// from within the call that queued them.
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

#include "common/base/status.h"
#include "common/image/image_buffer.h"

namespace pixelmill {

class ImageWriter {
 public:
  using DoneFn = std::function<void(const Status&)>;
  // What a linked image holds, for its manifest line: its size and its header's dimensions.
  struct Linked {
    uint64_t bytes = 0;
    uint32_t width = 0, height = 0;
  };
  using LinkedFn = std::function<void(const Status&, const Linked&)>;

  // `commit_delay_ms_for_tests`: 0 but in tests (SinkOptions).
  ImageWriter(uv_loop_t& loop, std::string out_dir, bool durable,
              uint64_t commit_delay_ms_for_tests);
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;
  ~ImageWriter();  // REQUIRES: no write pending

  // Creates OUT/images/ if missing and opens it (refused if it is a symlink). Blocking: call
  // before the loop runs.
  Status Open();
  // Writes `bytes` to OUT/<relative_path> (complete, then named) and releases the buffer;
  // `done` gets ok once it is in place, or why not (code kFull when the output is full -- no
  // space, quota, file-size limit -- else kWrite).
  // REQUIRES: Open() succeeded; relative_path is "images/<name>" or, fanned out,
  // "images/ab/cd/<name>" (OutputLayout::ImagePath): the subfolders are made as needed, opened
  // level by level from OUT/images's descriptor (O_NOFOLLOW), and synced when `durable`.
  void Write(std::string relative_path, ImageBuffer bytes, DoneFn done);
  // Makes OUT/<to> the image OUT/<from> is (in place already, written by this run or an earlier
  // one): a hard link made under a temporary name, then renamed over `to`; where the filesystem
  // refuses the link (EXDEV, EMLINK, EPERM), a copy written as Write() writes. The image is
  // read and probed for `done`'s size and dimensions; errors as Write()'s, and kWrite when
  // `from` is missing or is not an image.
  // REQUIRES: as Write(), for both paths.
  void Link(std::string from, std::string to, LinkedFn done);
  // Images not yet written, and those waiting for a free pool job (every job busy).
  size_t pending() const { return pending_; }
  size_t waiting() const;
  // Runs `idle` once no image is pending (at once if none is): after the done callbacks of the
  // last ones. No Write() may follow.
  void WhenIdle(std::function<void()> idle);

 private:
  struct FileWrite;
  struct Job;

  void StartJobs();
  void FinishJob(Job& job, int status);
  // commit_delay_ms_for_tests: finishes `job` that much later.
  void FinishJobLate(Job& job, int status);
  void MaybeIdle();

  uv_loop_t& loop_;
  const std::string out_dir_;
  const std::string images_;  // OUT/images
  const bool durable_;
  const uint64_t commit_delay_ms_for_tests_;
  int images_fd_ = -1;  // OUT/images, opened once (O_NOFOLLOW); every image is written in it
  static constexpr size_t kMaxJobs = 2;          // pool jobs writing files at once
  static constexpr size_t kMaxFilesPerJob = 64;  // files one job writes
  std::deque<FileWrite> waiting_;
  std::unordered_map<Job*, std::unique_ptr<Job>> jobs_;
  size_t pending_ = 0;
  std::function<void()> on_idle_;
};

}  // namespace pixelmill
