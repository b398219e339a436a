#include "coordinator/input/record_fields.h"

#include <utility>

namespace pixelmill {

std::string RecordFieldsProblem(const RecordFields& fields) {
  const std::pair<const char*, const std::string*> named[] = {{"--id-field", &fields.id},
                                                              {"--name-field", &fields.name},
                                                              {"--url-field", &fields.image_url}};
  for (const auto& [flag, path] : named) {
    if (path->empty() && path != &fields.name) return std::string(flag) + ": empty path";
    if (path->empty()) continue;
    if (path->find_first_of("\"\\") != std::string::npos) {
      return std::string(flag) + ": \"" + *path + "\" holds a quote or a backslash";
    }
    if (path->front() == '.' || path->back() == '.' || path->find("..") != std::string::npos) {
      return std::string(flag) + ": \"" + *path +
             "\" has an empty key (a dot at an end or two together)";
    }
  }
  for (const auto& [flag, path] : named) {
    for (const auto& [other_flag, other] : named) {
      if (path == other || path->empty() || other->empty()) continue;
      if (*path == *other || other->rfind(*path + ".", 0) == 0) {
        return std::string(flag) + " \"" + *path + "\" and " + other_flag + " \"" + *other +
               "\" overlap: one field's value would hold the other";
      }
    }
  }
  return {};
}

}  // namespace pixelmill
