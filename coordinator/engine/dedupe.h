// Dedupe: which users share one image, so that it is downloaded and filtered once (--dedupe).
//
//   url      users whose image URLs have one CanonicalUrl (url_policy.h) form a group; its
//            lowest index, the first in input order, is the leader. Only the leader downloads
//            and is filtered; every other member (a follower) waits for the leader's line and
//            then gets its own: the leader's image under its own name, or the leader's failure.
//   content  as url, and a downloaded body whose SHA-256 equals an earlier one's this run makes
//            its user a follower of that earlier user too (filtered once, downloaded each).
//   off      every user on its own.
//
// Memory: the URL groups are built once, before the run, from a temporary array of (64-bit
// hash of the canonical URL, index) pairs, 16 bytes a user, sorted; a hash shared by two
// different canonical URLs is told apart by comparing them, so a hash collision never merges two
// images. What stays is one (member, leader) pair of 8 bytes per user who shares a URL, nothing
// for the others. While the run goes: waiting followers as index lists under their leader, a
// failed leader's error while followers may still come, and in content mode 32 + 8 bytes (plus
// the hash map's node) per image downloaded. The table is over the users it is given: a shard
// of users would get its own.
//
// Loop thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

enum class DedupeMode { kOff, kUrl, kContent };

// "url", "content" or "off" (the option table's choices); kUrl for anything else.
DedupeMode DedupeModeOf(std::string_view text);

// What deduplication saved in a run.
struct DedupeStats {
  uint64_t deduplicated = 0;       // followers that got their line (ok or failed)
  uint64_t downloads_saved = 0;    // followers whose image was not downloaded (url groups)
  uint64_t filter_jobs_saved = 0;  // followers whose image was not filtered (with a filter)
};

class Dedupe {
 public:
  using Digest = std::array<unsigned char, 32>;  // SHA-256

  // Groups the users of `store` by canonical URL (none with kOff).
  Dedupe(const UserStore& store, DedupeMode mode);

  DedupeMode mode() const { return mode_; }
  // The leader of `user`'s URL group when `user` is a follower in it; nullopt for a leader and
  // a user sharing its URL with nobody.
  std::optional<size_t> UrlLeaderOf(size_t user) const;
  // Users in a URL group (leaders included).
  size_t grouped() const { return member_leader_.size(); }

  // content: `user`'s downloaded `body` was seen before from another user this run: that
  // user, the leader; else records `user` as the leader of these bytes and returns nullopt.
  std::optional<size_t> ContentLeaderOf(size_t user, std::string_view body);

  // `follower` waits for `leader`'s line.
  void Wait(size_t leader, size_t follower);
  // The followers waiting for `leader`, taken (none left after).
  std::vector<uint32_t> TakeWaiters(size_t leader);
  // Followers waiting now.
  size_t waiting() const { return waiting_; }
  // `leader`'s line was failed with `error`: kept for its later followers (only when it may
  // still have some: a URL leader, or any downloaded user in content mode).
  void LeaderFailed(size_t leader, const Status& error);
  // The failure a leader's line had in this run, or null (ok, not finished, or an earlier run).
  const Status* FailureOf(size_t leader) const;

 private:
  DedupeMode mode_;
  std::vector<std::pair<uint32_t, uint32_t>> member_leader_;  // followers only, sorted by member
  std::vector<bool> url_leader_;  // per user when any group exists: leads a URL group
  std::unordered_map<uint32_t, std::vector<uint32_t>> waiters_;
  size_t waiting_ = 0;
  std::unordered_map<uint32_t, Status> failures_;
  struct DigestHash {
    size_t operator()(const Digest& d) const;
  };
  std::unordered_map<Digest, uint32_t, DigestHash> by_content_;
};

}  // namespace pixelmill
