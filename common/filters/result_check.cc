#include "common/filters/result_check.h"

namespace pixelmill {

std::string UnexpectedFormat(const FilterSpec& spec, const FilterContext& context,
                             OutputFormat format) {
  if (spec.IsStandIn()) return {};
  const OutputFormat asked = context.format;
  const bool ok = asked != OutputFormat::kUnknown
                      ? format == asked
                      : format == OutputFormat::kJpeg || format == OutputFormat::kPng ||
                            format == OutputFormat::kWebp;
  return ok ? std::string() : std::string(ExtensionFor(format)) + " is not the format asked for";
}

Result<ImageHeader> CheckFilterResult(const FilterSpec& spec, const FilterContext& context,
                                      std::string_view bytes) {
  Result<ImageHeader> header = ProbeImage(bytes);
  if (!header.ok()) return Status::Error(Code::kBadResult, header.status().message());
  if (std::string problem = UnexpectedFormat(spec, context, header->format); !problem.empty()) {
    return Status::Error(Code::kBadResult, problem);
  }
  return header;
}

}  // namespace pixelmill
