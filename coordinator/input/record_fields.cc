#include "coordinator/input/record_fields.h"

namespace pixelmill {

std::string RecordFieldsProblem(const RecordFields& fields) {
  for (size_t f = 0; f < 3; ++f) {
    const std::string flag = RecordFields::kFlags[f];
    const std::string& path = fields[f];
    if (path.empty() && &path != &fields.name) return flag + ": empty path";
    if (path.empty()) continue;
    if (path.find_first_of("\"\\") != std::string::npos) {
      return flag + ": \"" + path + "\" holds a quote or a backslash";
    }
    if (path.front() == '.' || path.back() == '.' || path.find("..") != std::string::npos) {
      return flag + ": \"" + path + "\" has an empty key (a dot at an end or two together)";
    }
  }
  for (size_t f = 0; f < 3; ++f) {
    for (size_t g = 0; g < 3; ++g) {
      const std::string &path = fields[f], &other = fields[g];
      if (f == g || path.empty() || other.empty()) continue;
      if (path == other || other.rfind(path + ".", 0) == 0) {
        return std::string(RecordFields::kFlags[f]) + " \"" + path + "\" and " +
               RecordFields::kFlags[g] + " \"" + other +
               "\" overlap: one field's value would hold the other";
      }
    }
  }
  return {};
}

}  // namespace pixelmill
