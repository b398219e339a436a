#include "coordinator/engine/in_process_filter.h"

#include <time.h>

#include <exception>
#include <optional>
#include <utility>

#include "common/filters/result_check.h"

namespace pixelmill {
namespace {

uint64_t ProcessCpuMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

InProcessFiltered FilterInProcess(size_t user, const FilterSpec& spec, const FilterContext& context,
                                  ImageBuffer body, const std::string& worker) {
  InProcessFiltered done;
  JobOutcome& o = done.outcome;
  o.user = user;
  o.attempts = 1;
  o.worker = worker;
  const uint64_t cpu_start = ProcessCpuMicros();
  std::optional<Result<FilterOutput>> output;
  try {
    output.emplace(RunFilter(spec, context, body.view()));
  } catch (const std::exception& e) {
    // As a worker reports a stray exception (e.g. bad_alloc on a huge image).
    output.emplace(
        Status::Error(Code::kInternal, "filter '" + spec.text + "' failed: " + e.what()));
  }
  o.cpu_micros = ProcessCpuMicros() - cpu_start;
  if (!output->ok()) {
    o.error = output->status();
    return done;
  }
  done.warnings = output->value().warnings;
  done.warning_text = output->value().warning_text;
  ImageBuffer image = output->value().bytes ? std::move(*output->value().bytes) : std::move(body);
  Result<ImageHeader> header = CheckFilterResult(spec, context, image.view());
  if (!header.ok()) {
    o.error = header.status().WithPrefix("the filter returned an invalid image: ");
    return done;
  }
  image.set_format(header->format);
  o.image = std::move(image);
  o.width = header->width;
  o.height = header->height;
  return done;
}

}  // namespace pixelmill
