// NearestFlag: the "did you mean" of an unknown command-line flag, the known flag fewest edits
// away (Levenshtein distance), for main()'s usage error. Plain functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pixelmill {

// Single-character insertions, deletions and substitutions that turn `a` into `b`.
size_t EditDistance(std::string_view a, std::string_view b);

// The flag of `known` (e.g. "--workers") closest to `given` (e.g. "--wokers" or "--wokers=2"),
// or "" when none is close: more than a third of the flag's letters (at least 2) would change.
std::string NearestFlag(std::string_view given, const std::vector<std::string>& known);

}  // namespace pixelmill
