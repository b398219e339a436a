#include "tests/support/server_profile.h"

#include <charconv>

#include "common/base/fnv1a.h"

namespace pixelmill::fixture {
namespace {

constexpr uint64_t kMaxMs = 3'600'000;
constexpr uint32_t kAllBp = 10'000;

bool ParseUint(std::string_view text, uint64_t max, uint64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size() && value <= max;
}

// "12", "0.5", "99.99" (at most two decimals) as basis points, at most 100 %.
bool ParsePercent(std::string_view text, uint32_t& bp) {
  const size_t dot = text.find('.');
  uint64_t whole = 0;
  uint64_t hundredths = 0;
  if (!ParseUint(text.substr(0, dot), 100, whole)) return false;
  if (dot != text.npos) {
    std::string_view decimals = text.substr(dot + 1);
    if (decimals.empty() || decimals.size() > 2 || !ParseUint(decimals, 99, hundredths)) {
      return false;
    }
    if (decimals.size() == 1) hundredths *= 10;
  }
  const uint64_t total = whole * 100 + hundredths;
  if (total > kAllBp) return false;
  bp = static_cast<uint32_t>(total);
  return true;
}

std::string PercentText(uint32_t bp) {
  std::string text = std::to_string(bp / 100);
  if (bp % 100 != 0) {
    text += '.';
    text += static_cast<char>('0' + bp % 100 / 10);
    if (bp % 10 != 0) text += static_cast<char>('0' + bp % 10);
  }
  return text;
}

// "5xx:5,reset:1.5" into per-kind basis points.
std::optional<std::string> ParseMix(std::string_view text,
                                    std::array<uint32_t, kFaultKinds.size()>& mix) {
  mix = {};
  uint32_t total = 0;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == text.npos ? std::string_view() : text.substr(comma + 1);
    const size_t colon = item.find(':');
    std::string_view name = item.substr(0, colon);
    size_t kind = 0;
    while (kind < kFaultKinds.size() && kFaultKinds[kind].name != name) ++kind;
    if (kind == kFaultKinds.size()) return "mix: unknown fault kind '" + std::string(name) + "'";
    uint32_t bp = 0;
    if (colon == item.npos || !ParsePercent(item.substr(colon + 1), bp)) {
      return "mix: '" + std::string(item) + "' is not KIND:PERCENT (0..100, two decimals)";
    }
    mix[kind] += bp;
    total += bp;
  }
  if (total > kAllBp) return std::string("mix: the percentages add up to more than 100");
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ServerProfile::Apply(const std::vector<QueryParam>& params) {
  ServerProfile next = *this;
  for (const QueryParam& param : params) {
    const std::string& v = param.value;
    bool ok = true;
    if (param.key == "latency_ms") {
      ok = ParseUint(v, kMaxMs, next.latency_ms);
    } else if (param.key == "jitter_ms") {
      ok = ParseUint(v, kMaxMs, next.jitter_ms);
    } else if (param.key == "tail_ms") {
      ok = ParseUint(v, kMaxMs, next.tail_ms);
    } else if (param.key == "tail_pct") {
      ok = ParsePercent(v, next.tail_bp);
    } else if (param.key == "pace") {
      ok = ParseUint(v, 1ull << 40, next.pace);
    } else if (param.key == "seed") {
      ok = ParseUint(v, UINT64_MAX, next.seed);
    } else if (param.key == "mix") {
      if (auto error = ParseMix(v, next.mix_bp)) return error;
    } else {
      return "unknown parameter '" + param.key + "'";
    }
    if (!ok) return "bad value for " + param.key + ": '" + v + "'";
  }
  *this = next;
  return std::nullopt;
}

int ServerProfile::FaultFor(std::string_view path) const {
  uint64_t hash = Fnv1a(path, Fnv1a(std::to_string(seed)));
  hash ^= hash >> 33;  // FNV's low bits mix poorly: finish with murmur3's fmix64 steps
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  uint32_t draw = static_cast<uint32_t>(hash % kAllBp);
  for (size_t kind = 0; kind < mix_bp.size(); ++kind) {
    if (draw < mix_bp[kind]) return static_cast<int>(kind);
    draw -= mix_bp[kind];
  }
  return -1;
}

std::string ServerProfile::Json() const {
  std::string mix;
  for (size_t kind = 0; kind < mix_bp.size(); ++kind) {
    if (mix_bp[kind] == 0) continue;
    if (!mix.empty()) mix += ',';
    mix += "\"" + std::string(kFaultKinds[kind].name) + "\":" + PercentText(mix_bp[kind]);
  }
  return "{\"latency_ms\":" + std::to_string(latency_ms) +
         ",\"jitter_ms\":" + std::to_string(jitter_ms) + ",\"tail_pct\":" + PercentText(tail_bp) +
         ",\"tail_ms\":" + std::to_string(tail_ms) + ",\"pace\":" + std::to_string(pace) +
         ",\"seed\":" + std::to_string(seed) + ",\"mix\":{" + mix + "}}";
}

std::string ServerCounts::Json() const {
  std::string by_kind;
  for (size_t kind = 0; kind < injected.size(); ++kind) {
    if (!by_kind.empty()) by_kind += ',';
    by_kind += "\"" + std::string(kFaultKinds[kind].name) + "\":" + std::to_string(injected[kind]);
  }
  return "{\"requests\":" + std::to_string(requests) + ",\"injected\":{" + by_kind + "}}";
}

}  // namespace pixelmill::fixture
