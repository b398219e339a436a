// The per-user rules of the engine, written once and followed by both of its configurations:
// the Pipeline (downloads in parallel, filters in worker processes) and one user at a time with
// the filter in this process (sequential.h). What a downloaded body must be to go on (the probe
// and its not_image failure), what an ok line records about the download and the filter, what an
// ended commit means for the user and the run (the disk-full rule and its message), and how an
// exception at a callback entry and a loop left with open handles are reported.
//
// Pure functions but CloseLoopOrDie; loop thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "common/base/status.h"
#include "common/filters/filter.h"
#include "common/image/image_probe.h"
#include "coordinator/download/downloader.h"
#include "coordinator/events/clock.h"
#include "coordinator/output/manifest.h"
#include "coordinator/output/sink.h"
#include "coordinator/workers/dispatcher.h"

namespace pixelmill {

// The header of a downloaded body, or the user's kNotImage failure. The bytes decide, not the
// Content-Type header: a JPEG sent as text/html is still a JPEG, and an HTML page sent as
// image/jpeg is not an image. A header that parses, declares its dimensions and is followed by
// image data is required even when nothing decodes the image (--filter none).
Result<ImageHeader> ProbeDownloaded(const Download& download);

// An ok line's record as far as the download goes: its attempts and time.
ManifestRecord DownloadedRecord(uint32_t attempts, Duration took);

// An image saved as downloaded (--filter none): `body` takes the probed format, `info` its
// dimensions.
void SaveUnfiltered(const ImageHeader& header, ImageBuffer& body, ManifestRecord& info);

// An image filtered (by a worker or in this process): `info` records the filter, who ran it,
// how often, its CPU time and the result's dimensions. REQUIRES: `outcome` is ok.
void RecordFiltered(const FilterSpec& spec, JobOutcome& outcome, ManifestRecord& info);

// What an ended commit (or a failed line's append) means.
struct CommitEnd {
  enum Action {
    kDone,      // the user has its line: count it
    kFailUser,  // the image could not be written: the user gets a failed line (`status`'s code)
    kStopRun,   // the output cannot take more: stop now, leave the user for a resume (`why`)
  };
  Action action = kDone;
  std::string why;
};
// A full output (no space, quota, file-size limit) is not the user's failure: a failed line
// would be kept by --resume, and every later image would fail the same way. A manifest that
// refuses a line can record nothing more. Both stop the run; every line before is kept.
CommitEnd JudgeCommit(CommitResult result, const Status& status);

// "internal error in WHERE: WHAT", the fatal error of an exception caught at a callback entry;
// kept in `fatal` only if it holds none yet (the first error is the one reported).
void KeepFirstFatal(std::string& fatal, const char* where, const char* what);

// Closes `loop`; a handle still open is a bug: says so on stderr and aborts, in release builds
// too.
void CloseLoopOrDie(uv_loop_t& loop);

}  // namespace pixelmill
