#include "coordinator/merge/shard_set.h"

#include <algorithm>
#include <map>

namespace pixelmill {
namespace {

std::string Named(const ShardFolder& folder) {
  return "shard " + folder.state.shard.Text() + " (" + folder.path + ")";
}

// What makes `other` a different run from `first` for a merge: the settings --resume compares,
// and the input's record count; the images' layout may differ (the merge names each path).
std::vector<std::string> Differences(const ShardFolder& first, const ShardFolder& other) {
  RunState same_layout = other.state;
  same_layout.fan_out = first.state.fan_out;
  std::vector<std::string> out = DescribeChanges(first.state, same_layout);
  if (first.state.input_records != other.state.input_records) {
    out.push_back("input records " + std::to_string(first.state.input_records) + " -> " +
                  std::to_string(other.state.input_records));
  }
  return out;
}

}  // namespace

Result<std::vector<ShardFolder>> ReadShardSet(const std::vector<std::string>& folders) {
  if (folders.empty()) {
    return Status::Error(Code::kUsage,
                         "no shard folders given: coordinator merge --output ALL "
                         "SHARD_DIR...");
  }
  std::vector<std::string> problems;
  std::map<uint32_t, ShardFolder> by_index;
  uint32_t count = 0;
  std::string count_from;
  for (const std::string& path : folders) {
    Result<RunState> state = ReadRunState(path);
    if (!state.ok()) {
      problems.push_back(path + ": " + state.status().message() +
                         (state.status().code() == Code::kMissing
                              ? " (not the output folder of a run, or its run never began)"
                              : ""));
      continue;
    }
    ShardFolder folder{path, state.value()};
    if (!folder.state.complete) {
      problems.push_back(Named(folder) +
                         " is unfinished (run.json: complete false): resume it with the same "
                         "command and --resume, then merge again");
    }
    if (count == 0) {
      count = folder.state.shard.count;
      count_from = Named(folder);
    } else if (folder.state.shard.count != count) {
      problems.push_back(Named(folder) + " is of a split in " +
                         std::to_string(folder.state.shard.count) + ", " + count_from +
                         " of one in " + std::to_string(count));
      continue;
    }
    const uint32_t index = folder.state.shard.index;
    if (auto it = by_index.find(index); it != by_index.end()) {
      problems.push_back("shard " + folder.state.shard.Text() +
                         " is given twice: " + it->second.path + " and " + path);
      continue;
    }
    by_index.emplace(index, std::move(folder));
  }
  for (uint32_t k = 0; count > 0 && k < count; ++k) {
    if (by_index.count(k) == 0) {
      problems.push_back("shard " + std::to_string(k) + "/" + std::to_string(count) +
                         " is missing: give its folder (run it with --shard " + std::to_string(k) +
                         "/" + std::to_string(count) + " first)");
    }
  }
  if (!by_index.empty()) {
    const ShardFolder& first = by_index.begin()->second;
    for (const auto& [index, folder] : by_index) {
      for (const std::string& what : Differences(first, folder)) {
        problems.push_back(Named(folder) + " ran differently from " + Named(first) + ": " + what);
      }
    }
  }
  if (!problems.empty()) {
    std::string message = "cannot merge:";
    for (const std::string& problem : problems) message += "\n  - " + problem;
    return Status::Error(Code::kBadState, message);
  }
  std::vector<ShardFolder> shards;
  shards.reserve(by_index.size());
  for (auto& [index, folder] : by_index) shards.push_back(std::move(folder));
  return shards;
}

}  // namespace pixelmill
