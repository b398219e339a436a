// ServerProfile: how the image API fixture (image-api) behaves by default, changed while it runs
// by GET /control?... (when started with --control), so that a load test's phases can each have
// their own latency and faults without restarting the server:
//
//   latency_ms=N, jitter_ms=N        every response after N ms plus 0..jitter ms (uniform)
//   tail_pct=P, tail_ms=N            P % of responses (0..100, decimals allowed) wait N ms more:
//                                    a long tail
//   pace=BPS                         every body at BPS bytes a second (a slow link); 0: no limit
//   mix=KIND:PCT,...                 P % of the images have fault KIND (kFaultKinds), chosen by a
//                                    hash of the path and the seed: the same image gets the same
//                                    fault on every request (so a retry meets it again), except
//                                    429, which answers once with Retry-After: 1, then the image
//   seed=N                           of that choice and of the delays
//
// A parameter left out keeps its value; mix= (empty) clears the mix. Explicit query parameters
// on an image request (latency=, fault=, status=...) win over the profile: the profile applies
// only to requests without a query. GET /stats answers the requests seen and the faults injected
// per kind since the last /control. Pure code; one thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/http_request.h"

namespace pixelmill::fixture {

// The faults a mix may hold, each named as in mix= and in /stats, with the query parameters it
// stands for.
struct FaultKind {
  std::string_view name;
  std::string_view query;
};
inline constexpr std::array<FaultKind, 10> kFaultKinds = {{
    {"5xx", "status=503"},
    {"404", "status=404"},
    {"429", "status=429&retry_after=1&fail_times=1"},
    {"reset", "fault=reset"},
    {"truncate", "fault=truncate"},
    {"hang", "fault=hang"},
    {"slow", "pace=20000"},
    {"redirect", "redirect=1"},
    {"corrupt", "fault=corrupt"},
    {"hostile", "fault=bomb_png50k"},
}};

struct ServerProfile {
  uint64_t latency_ms = 0;
  uint64_t jitter_ms = 0;
  uint32_t tail_bp = 0;  // tail_pct in basis points (1/100 of a percent)
  uint64_t tail_ms = 0;
  uint64_t pace = 0;
  uint64_t seed = 1;
  std::array<uint32_t, kFaultKinds.size()> mix_bp{};  // per kind, basis points

  // Applies /control's parameters; returns what is wrong (the profile unchanged), or nullopt.
  std::optional<std::string> Apply(const std::vector<QueryParam>& params);
  // The fault kind (an index into kFaultKinds) for the image at `path`, or -1 for none.
  int FaultFor(std::string_view path) const;
  // The profile as a JSON object (mix in percent).
  std::string Json() const;
};

// What /stats answers: the requests since the last /control and the faults injected per kind.
struct ServerCounts {
  uint64_t requests = 0;
  std::array<uint64_t, kFaultKinds.size()> injected{};
  std::string Json() const;
};

}  // namespace pixelmill::fixture
