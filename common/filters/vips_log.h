// VipsLog: what libvips says while one image is filtered, kept for that image alone.
//
// libvips reports in two places that outlive a job: a process-wide error buffer (vips_error),
// which also collects errors it recovers from (an unusable embedded ICC profile), and GLib
// warnings in its log domain "VIPS" (libpng's and libjpeg's complaints about damaged data),
// which GLib prints on stderr. Left alone, a failing image's message carried earlier images'
// errors, and every damaged image printed a line on the worker's stderr. Here the warnings are
// captured instead (a g_log handler installed once), and each job starts clean: a job's failure
// message and its warnings are its own.
//
// Used by RunVipsChain (common/filters/vips_filters.cc) only. Jobs run one at a time per process;
// the handler may be called from libvips' own threads, so the capture is guarded by a mutex.
#pragma once

#include <cstdint>
#include <string>

namespace pixelmill {

// Routes libvips' GLib warnings and messages into the current job's log instead of stderr.
// Once per process (from InitVips).
void CaptureVipsWarnings();

// Starts a job: forgets the errors and warnings left by anything before it.
void BeginVipsJob();

struct VipsWarnings {
  uint32_t count = 0;  // warnings, and errors libvips recovered from, during the job
  std::string text;    // the first of them, "; "-joined (cut when long)
};

// Ends a job that succeeded: its warnings, including errors libvips recovered from.
VipsWarnings EndVipsJob();

// Ends a job that failed with libvips' exception text `what`: the reason, from this job's
// errors and warnings only (libpng states some reasons only as warnings).
std::string EndFailedVipsJob(const std::string& what);

}  // namespace pixelmill
