#include "tests/support/json_at.h"

#include <simdjson.h>

#include <limits>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace pixelmill::testing {
namespace {

// Sets `value` (which lives in `parser`) to the one at `pointer` in `text`; false when `text` is
// not JSON or has no such value.
bool JsonFind(std::string_view text, std::string_view pointer, simdjson::dom::parser& parser,
              simdjson::dom::element& value) {
  simdjson::dom::element root;
  return parser.parse(simdjson::padded_string(text)).get(root) == simdjson::SUCCESS &&
         root.at_pointer(pointer).get(value) == simdjson::SUCCESS;
}

// The number of type T at `pointer` in `text`, or `missing` when there is none of that type.
template <typename T>
T JsonNumber(std::string_view text, std::string_view pointer, T missing) {
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  T number{};
  if (!JsonFind(text, pointer, parser, value) || value.get(number) != simdjson::SUCCESS) {
    return missing;
  }
  return number;
}

}  // namespace

std::string JsonAt(std::string_view text, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(simdjson::padded_string(text)).get(root); error) {
    return "<not JSON: " + std::string(simdjson::error_message(error)) + ">";
  }
  simdjson::dom::element value;
  if (root.at_pointer(pointer).get(value) != simdjson::SUCCESS) {
    return "<no " + std::string(pointer) + ">";
  }
  if (value.is_string()) return std::string(value.get_string().value());
  return simdjson::minify(value);
}

int64_t JsonInt(std::string_view text, std::string_view pointer) {
  return JsonNumber(text, pointer, std::numeric_limits<int64_t>::min());
}

double JsonDouble(std::string_view text, std::string_view pointer) {
  return JsonNumber(text, pointer, std::numeric_limits<double>::quiet_NaN());
}

bool JsonHas(std::string_view text, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  return JsonFind(text, pointer, parser, value);
}

size_t JsonLinesWith(const std::string& text, std::string_view pointer, std::string_view value) {
  std::istringstream lines(text);
  size_t count = 0;
  for (std::string line; std::getline(lines, line);) count += JsonAt(line, pointer) == value;
  return count;
}

std::map<int64_t, std::string> ManifestById(const std::filesystem::path& manifest,
                                            std::vector<std::string>* problems) {
  std::map<int64_t, std::string> lines;
  std::istringstream in(ReadFile(manifest));
  for (std::string line; std::getline(in, line);) {
    const int64_t id = JsonInt(line, "/id");
    const bool fresh = id != std::numeric_limits<int64_t>::min() && lines.emplace(id, line).second;
    if (!fresh && problems != nullptr) problems->push_back(line);
  }
  return lines;
}

}  // namespace pixelmill::testing
