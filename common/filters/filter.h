// Filters: what a worker (or the coordinator itself, one user at a time) does to an image. A filter
// spec is a chain of steps separated by commas, each "name" or "name:argument", e.g. "blur:5" or
// "thumbnail:256,sharpen:1". Steps run left to right on the decoded image, which is encoded once at
// the end.
//
// Image filters (libvips, one pixel thread per process; see FilterHelp() for ranges):
//   blur:SIGMA  sharpen:SIGMA  grayscale  sepia:STRENGTH  edge  invert  brightness:F
//   contrast:F  pixelate:BLOCK  thumbnail:SIZE
// Stand-ins that pass the image on unchanged (each must be the whole spec):
//   none       the image unchanged, no decoding (the downloaded bytes are saved)
//   sleep:MS   sleeps MS milliseconds (synthetic work for load tests)
//   spin:MS    burns MS milliseconds of CPU (synthetic CPU-bound work for load tests)
// A test-only build adds stand-ins of its own (RegisterTestStandIn; e.g. the crash-recovery
// tests' `crash`, tests/support/crash_filter.cc); the production registry is the table in
// filter.cc.
//
// The spec is parsed once (ParseFilterSpec) into a FilterSpec; everything else uses the parsed
// form. InitFilters() once per process before RunFilter(); then RunFilter is safe from one
// thread at a time per process (workers run one filter at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/image/image_buffer.h"
#include "common/image/image_format.h"

namespace pixelmill {

// Steps in one filter chain at most. libvips evaluates a chain as nested calls, so a very long
// one overflows the stack of the process running it; chains of this length run everywhere
// (tests/common/filters/vips_filters_test.cc runs the longest chain of every filter).
inline constexpr size_t kMaxFilterSteps = 32;

struct FilterStep {
  std::string name;
  std::optional<double> argument;
};

struct FilterSpec {
  std::vector<FilterStep> steps;
  std::string text;  // canonical form, e.g. "thumbnail:256,sharpen:1"

  // True for "none": the downloaded bytes are saved as they are, no worker is needed.
  bool IsNone() const;
  // True when no step decodes the image (none, sleep, spin, a test build's stand-ins).
  bool IsStandIn() const;
};

// Parses and checks a spec. An unknown filter (kUnknownFilter), a missing, non-finite or
// out-of-range argument, or a bad chain (over kMaxFilterSteps steps, say: kBadFilterArgument)
// fails with one line naming the bad part.
// `default_argument` (the seed's --intensity) fills in a step given without its argument.
Result<FilterSpec> ParseFilterSpec(std::string_view spec,
                                   std::optional<double> default_argument = std::nullopt);

// What a job needs beyond the spec.
struct FilterContext {
  OutputFormat format = OutputFormat::kUnknown;  // kUnknown: the input's (GIF input -> PNG)
  int quality = 85;                              // JPEG/WebP quality, 1..100
  bool keep_metadata = false;                    // else EXIF (GPS too), XMP, IPTC are stripped
  uint64_t max_pixels = 40'000'000;              // larger images are refused from the header
  bool exact = false;  // libvips only, never the fast JPEG path (fast_jpeg.h): for comparisons
};

// The smallest address-space cap, in MB, under which a worker process starts and filters
// (measured: below 192 MB its threads cannot start, and GLib aborts it with SIGTRAP; below
// 256 MB libvips cannot start its own, so every image fails).
inline constexpr uint64_t kMinWorkerAddressSpaceMb = 256;

struct FilterOutput {
  std::optional<ImageBuffer> bytes;              // nullopt: the output is the input, unchanged
  OutputFormat format = OutputFormat::kUnknown;  // of bytes
  uint32_t width = 0, height = 0;                // 0 when not decoded
  // libvips' warnings about this image (damaged but readable: a bad ICC profile, a short scan),
  // and the first of them as text. A failed image's warnings are part of its error message.
  uint32_t warnings = 0;
  std::string warning_text;
  // The job thread's CPU microseconds by stage. libvips decodes lazily, inside the encode, so its
  // path reports all of it as encode_us; the fast JPEG path (fast_jpeg.h) times each stage.
  struct Stages {
    uint32_t decode_us = 0, filter_us = 0, encode_us = 0;
  } stages;
  bool fast_path = false;  // run by the fast JPEG path, not libvips
};

// Sets up the image library for an untrusted batch worker (once per process; later calls are
// no-ops): one pixel thread, no operation cache, only the allowed loaders.
Status InitFilters();

// Runs the filter on `input`. Failures are values with a code (kDecodeError,
// kUnsupportedFormat, kTooManyPixels, ...), never exceptions.
Result<FilterOutput> RunFilter(const FilterSpec& spec, const FilterContext& context,
                               std::string_view input);

// True for filters that finish at once and cannot block ("none"): a worker runs them without
// handing them to its compute thread.
bool IsInstant(const FilterSpec& spec);

// A stand-in filter that only a test-only build registers: `run` gets the image and returns what
// RunFilter() returns. REQUIRES: called before any spec is parsed (from a static initialiser of
// the test build's own source), with a name not registered yet.
using StandInFn = Result<FilterOutput> (*)(std::string_view input);
void RegisterTestStandIn(const char* name, const char* doc, StandInFn run);

// Names of every registered filter, for Hello and checks against a worker's Hello.
std::vector<std::string> FilterNames();

// One line per filter: name, argument, range; for --help and the README.
std::string FilterHelp();

}  // namespace pixelmill
