// A finished run's manifest read back into the C++ API's records.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "coordinator/api/api_parts.h"
#include "coordinator/output/manifest_reader.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {

std::unordered_map<std::string, UserResult> ReadRecords(const std::string& out_dir) {
  std::unordered_map<std::string, UserResult> records;
  Result<ManifestReader> reader = ManifestReader::Open(OutputLayout(out_dir).manifest(), false);
  if (!reader.ok()) return records;
  const std::filesystem::path out = std::filesystem::absolute(out_dir);
  // A read error ends the records where it happened: the users after it are not done.
  (void)reader->ForEach([&](const ManifestLine&, const ManifestRecord* line) {
    if (line == nullptr || line->status.empty()) return true;
    records[IdText(line->id.view())] = ToUserResult(*line, out);
    return true;
  });
  return records;
}

}  // namespace pixelmill
