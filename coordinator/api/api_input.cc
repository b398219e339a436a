// Users for the C++ API from a vector or a stream, with the identity a later resume compares.
#include <algorithm>
#include <chrono>
#include <istream>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/api/api_parts.h"
#include "coordinator/engine/run_state.h"
#include "coordinator/events/clock.h"
#include "coordinator/input/input_file.h"
#include "coordinator/input/stream_source.h"
#include "coordinator/input/user_loader.h"

namespace pixelmill {

Result<LoadedUsers> FromVector(const std::vector<User>& users, const Shard& shard) {
  const TimePoint start = RealClock().Now();
  LoadedUsers loaded;
  loaded.stats.format = InputFormat::kJsonArray;
  std::unordered_map<std::string, size_t> seen;  // IdText
  seen.reserve(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    const User& user = users[i];
    const std::string where = "users[" + std::to_string(i) + "]: ";
    if (user.image_url.empty()) {
      return Status::Error(Code::kBadInput, where + "field \"image_url\": empty string");
    }
    const UserId id = user.string_id.empty() ? UserId(user.id) : UserId::String(user.string_id);
    if (id.is_string()) {
      if (std::string problem = StringIdProblem(id.text); !problem.empty()) {
        return Status::Error(Code::kBadInput, where + "field \"string_id\": " + problem);
      }
    }
    if (auto [it, fresh] = seen.emplace(IdText(id), i); !fresh) {
      return Status::Error(Code::kBadInput,
                           where + "field \"" + (id.is_string() ? "string_id" : "id") +
                               "\": duplicate id " + IdText(id) + " (first seen at index " +
                               std::to_string(it->second) + ")");
    }
    if (shard.Holds(id)) {
      loaded.store.Add(id, user.name, user.image_url);
    } else {
      ++loaded.stats.other_shards;
    }
  }
  loaded.stats.users = loaded.store.size();
  loaded.stats.seconds = Seconds(RealClock().Now() - start);
  // A vector has no file to stat: it is known by its count and its hashed fields.
  loaded.identity = IdentifyUsers(loaded.store, "<users>");
  return loaded;
}

// Read as the loader asks for it, keeping only the two ends the identity hashes.
Result<LoadedUsers> FromStream(std::istream& in, const Options& options) {
  StreamSource source(in, "<stream>", kIdentityEndBytes);
  LoadedUsers loaded;
  LoadOptions load{options.max_bad_records};
  load.shard = options.input_shard;
  load.fields = options.record_fields;
  Result<LoadStats> stats = LoadUsers(source, load, loaded.store);
  if (!stats.ok()) return stats.status();
  loaded.stats = stats.value();
  loaded.identity = IdentifyEnds(source.head(), source.tail(), source.bytes_read(), source.name());
  return loaded;
}

}  // namespace pixelmill
