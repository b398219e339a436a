// Users for the C++ API from a vector or a stream, with the identity a later resume compares.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "coordinator/api/api_parts.h"
#include "coordinator/engine/run_state.h"
#include "coordinator/events/clock.h"
#include "coordinator/input/input_file.h"
#include "coordinator/input/user_loader.h"

namespace pixelmill {
namespace {

// Loads a JSON array or JSONL file with the coordinator's loader.
Result<LoadedUsers> FromFile(const std::string& path, const std::string& shown_as,
                             size_t max_bad_records) {
  Result<InputFile> input = InputFile::Open(path);
  if (!input.ok()) return input.status();
  LoadedUsers loaded;
  Result<LoadStats> stats = LoadUsers(input.value(), LoadOptions{max_bad_records}, loaded.store);
  if (!stats.ok()) {
    std::string message = stats.status().message();
    // The loader names the file it read; a stream's temporary file means nothing to a caller.
    for (size_t at = 0; (at = message.find(path, at)) != std::string::npos;) {
      message.replace(at, path.size(), shown_as);
      at += shown_as.size();
    }
    return Status::Error(stats.status().code(), message);
  }
  loaded.stats = stats.value();
  return loaded;
}

}  // namespace

Result<LoadedUsers> FromVector(const std::vector<User>& users) {
  const TimePoint start = RealClock().Now();
  LoadedUsers loaded;
  loaded.stats.format = InputFormat::kJsonArray;
  std::unordered_map<int64_t, size_t> seen;
  seen.reserve(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    const User& user = users[i];
    const std::string where = "users[" + std::to_string(i) + "]: ";
    if (user.image_url.empty()) {
      return Status::Error("bad_input", where + "field \"image_url\": empty string");
    }
    if (auto [it, fresh] = seen.emplace(user.id, i); !fresh) {
      return Status::Error("bad_input", where + "field \"id\": duplicate id " +
                                            std::to_string(user.id) + " (first seen at index " +
                                            std::to_string(it->second) + ")");
    }
    loaded.store.Add(user.id, user.name, user.image_url);
  }
  loaded.stats.users = users.size();
  loaded.stats.seconds = Seconds(RealClock().Now() - start);
  // A vector has no file to stat: it is known by its count and its hashed fields.
  loaded.identity = IdentifyUsers(loaded.store, "<users>");
  return loaded;
}

// Read whole into a temporary file (unlinked at once) that the loader reads.
Result<LoadedUsers> FromStream(std::istream& in, size_t max_bad_records) {
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return Status::Error("io", "cannot read the input stream");
  std::error_code ec;
  std::string path = (std::filesystem::temp_directory_path(ec) / "pixelmill-input-XXXXXX").string();
  if (ec) path = "/tmp/pixelmill-input-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) {
    return Status::Error("io", "cannot create a temporary file for the input stream: " +
                                   std::string(std::strerror(errno)));
  }
  ::close(fd);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out.flush()) {
      ::unlink(path.c_str());
      return Status::Error("io", "cannot write a temporary copy of the input stream to " + path);
    }
  }
  Result<LoadedUsers> loaded = FromFile(path, "<stream>", max_bad_records);
  ::unlink(path.c_str());
  if (!loaded.ok()) return loaded;
  loaded->identity = IdentifyBytes(text, "<stream>");
  return loaded;
}

}  // namespace pixelmill
