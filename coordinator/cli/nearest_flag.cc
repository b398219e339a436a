#include "coordinator/cli/nearest_flag.h"

#include <algorithm>
#include <numeric>

namespace pixelmill {

size_t EditDistance(std::string_view a, std::string_view b) {
  // One row of the classic table at a time.
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string NearestFlag(std::string_view given, const std::vector<std::string>& known) {
  given = given.substr(0, given.find('='));
  std::string best;
  size_t best_distance = 0;
  for (const std::string& flag : known) {
    const size_t distance = EditDistance(given, flag);
    if (best.empty() || distance < best_distance) {
      best = flag;
      best_distance = distance;
    }
  }
  const size_t letters = given.size() > 2 ? given.size() - 2 : given.size();
  return best_distance <= std::max<size_t>(2, letters / 3) ? best : std::string();
}

}  // namespace pixelmill
