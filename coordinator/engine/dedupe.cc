#include "coordinator/engine/dedupe.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>

#include "coordinator/download/url_policy.h"

namespace pixelmill {

DedupeMode DedupeModeOf(std::string_view text) {
  if (text == "off") return DedupeMode::kOff;
  if (text == "content") return DedupeMode::kContent;
  return DedupeMode::kUrl;
}

Dedupe::Dedupe(const UserStore& store, DedupeMode mode) : mode_(mode) {
  // Indices are kept in 32 bits: a larger input runs without deduplication.
  if (mode == DedupeMode::kOff || store.size() > std::numeric_limits<uint32_t>::max()) return;
  std::vector<std::pair<uint64_t, uint32_t>> keys;  // (hash of the canonical URL, index)
  keys.reserve(store.size());
  for (size_t i = 0; i < store.size(); ++i) {
    const std::string canonical = CanonicalUrl(store.Get(i).image_url);
    if (canonical.empty()) continue;  // refused by the downloader on its own
    keys.emplace_back(std::hash<std::string_view>()(canonical), static_cast<uint32_t>(i));
  }
  std::sort(keys.begin(), keys.end());
  std::vector<std::pair<std::string, uint32_t>> leaders;  // of one hash: canonical URL, leader
  for (size_t a = 0; a < keys.size();) {
    size_t b = a + 1;
    while (b < keys.size() && keys[b].first == keys[a].first) ++b;
    if (b - a > 1) {
      // Ascending indices: the first of each canonical URL is its leader. Equal hashes of
      // different URLs (a collision) stay apart.
      leaders.clear();
      for (size_t k = a; k < b; ++k) {
        const uint32_t user = keys[k].second;
        std::string canonical = CanonicalUrl(store.Get(user).image_url);
        auto it = std::find_if(leaders.begin(), leaders.end(),
                               [&](const auto& l) { return l.first == canonical; });
        if (it == leaders.end()) {
          leaders.emplace_back(std::move(canonical), user);
        } else {
          member_leader_.emplace_back(user, it->second);
        }
      }
    }
    a = b;
  }
  std::vector<std::pair<uint64_t, uint32_t>>().swap(keys);
  std::sort(member_leader_.begin(), member_leader_.end());
  member_leader_.shrink_to_fit();
  if (!member_leader_.empty()) {
    url_leader_.assign(store.size(), false);
    for (const auto& [member, leader] : member_leader_) url_leader_[leader] = true;
  }
}

std::optional<size_t> Dedupe::UrlLeaderOf(size_t user) const {
  const auto it = std::lower_bound(
      member_leader_.begin(), member_leader_.end(), user,
      [](const std::pair<uint32_t, uint32_t>& entry, size_t u) { return entry.first < u; });
  if (it == member_leader_.end() || it->first != user) return std::nullopt;
  return it->second;
}

size_t Dedupe::DigestHash::operator()(const Digest& d) const {
  size_t h;
  std::memcpy(&h, d.data(), sizeof h);  // SHA-256's bytes are already uniform
  return h;
}

std::optional<size_t> Dedupe::ContentLeaderOf(size_t user, std::string_view body) {
  if (mode_ != DedupeMode::kContent) return std::nullopt;
  Digest digest{};
  unsigned int size = 0;
  if (EVP_Digest(body.data(), body.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return std::nullopt;  // cannot hash: the user goes on alone
  }
  const auto [it, added] = by_content_.try_emplace(digest, static_cast<uint32_t>(user));
  if (added || it->second == user) return std::nullopt;
  return it->second;
}

void Dedupe::Wait(size_t leader, size_t follower) {
  waiters_[static_cast<uint32_t>(leader)].push_back(static_cast<uint32_t>(follower));
  ++waiting_;
}

std::vector<uint32_t> Dedupe::TakeWaiters(size_t leader) {
  std::vector<uint32_t> out;
  if (auto it = waiters_.find(static_cast<uint32_t>(leader)); it != waiters_.end()) {
    out = std::move(it->second);
    waiters_.erase(it);
    waiting_ -= out.size();
  }
  return out;
}

void Dedupe::LeaderFailed(size_t leader, const Status& error) {
  const bool url_leader = leader < url_leader_.size() && url_leader_[leader];
  if (url_leader || mode_ == DedupeMode::kContent) {
    failures_[static_cast<uint32_t>(leader)] = error;
  }
}

const Status* Dedupe::FailureOf(size_t leader) const {
  const auto it = failures_.find(static_cast<uint32_t>(leader));
  return it == failures_.end() ? nullptr : &it->second;
}

}  // namespace pixelmill
