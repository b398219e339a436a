// HostGate: which waiting download may start now, host by host. The downloader keeps every
// download that is not on the wire here (new ones, retries, redirect hops), so a transfer is
// handed to curl only when its host has a free connection: the wait for a connection is never
// charged to the attempt's timeout, and a user waiting for its host holds no download slot.
//
// It also tracks each host's health. After `pause_after` consecutive connection failures, or a
// 429/503 with Retry-After, the host is paused: all its users wait once, together, instead of
// each on its own timer. When a connection-failure pause ends, one download probes the host; a
// host whose probes keep failing is down, and its users fail at once ("host down: ...") until a
// later probe (one every `down_recheck_ms`) finds it back.
//
// With a request rate (`rate` a second per host, --rate), each host also has a token bucket of
// `burst` requests: a download starts only with a token, so the host sees at most `burst` at once
// and `rate` a second after that. A server's pushback (429, or 503 with Retry-After) halves the
// host's rate (to no less than 1/16 of it) and each success gives back 1/64 of it: the run slows
// down for a server that pushes back, then returns to the flag.
//
// Policy only (no sockets, no clock of its own: callers pass `now`); used by the downloader on the
// loop thread. Ids are the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "coordinator/events/clock.h"

namespace pixelmill {

struct HostGateOptions {
  size_t per_host = 64;               // downloads on the wire to one host at most
  uint32_t pause_after = 5;           // consecutive connection failures that pause a host
  uint64_t first_pause_ms = 1000;     // first pause; doubles after each failed probe
  uint32_t failed_probes = 3;         // failed probes in a row before the host is down
  uint64_t down_recheck_ms = 30'000;  // a down host is probed again after this
  double rate = 0;                    // requests a second to one host at most; 0: no limit
  double burst = 0;                   // the bucket's size; 0: max(1, rate / 10)
};

// How long downloads waited on purpose, summed over hosts: for the flag's rate (a host had
// downloads waiting and no token) and for the server (paused by a 429/503's Retry-After).
struct ThrottleTimes {
  double by_rate_s = 0;
  double by_server_s = 0;
  uint64_t server_slowdowns = 0;  // pushback answers that lowered a host's rate
};

class HostGate {
 public:
  enum class Outcome {
    kOk,             // the host answered (any HTTP status, any body)
    kConnectFailed,  // no connection could be made (refused, unreachable, connect timeout)
  };

  explicit HostGate(HostGateOptions options);

  // Queues download `id` for `host` (at the head with `first`, e.g. a retry that the host's
  // pause already made wait). Returns why it must fail instead when the host is down.
  std::optional<std::string> Push(const std::string& host, uint32_t id, TimePoint now,
                                  bool first = false);
  // Moves up to `max` downloads that may start now into `out` (round-robin over hosts) and counts
  // them as on the wire.
  void TakeReady(TimePoint now, size_t max, std::vector<uint32_t>& out);
  // Download `id`, taken by TakeReady, is done with the wire: `outcome` says how the host
  // behaved; `retry_after_ms` (a 429/503 Retry-After) pauses the host for that long; `throttled`
  // (a 429, or a 503 with Retry-After) lowers the host's rate when there is one.
  // Only the probe's own outcome counts as a probe (not that of downloads sent before the pause).
  void Finished(const std::string& host, uint32_t id, Outcome outcome,
                std::optional<uint64_t> retry_after_ms, TimePoint now, bool throttled = false);
  // Downloads whose host went down while they waited, with the reason; the caller fails them.
  std::vector<std::pair<uint32_t, std::string>> TakeFailed();
  // When the next paused host may start again (for the caller's timer), if any host is paused
  // with downloads waiting.
  std::optional<TimePoint> NextWake() const;
  // Whether `host` is not fully open (paused, probing or down): a download of it that failed to
  // connect waits for the host instead of on a timer of its own.
  bool Paused(const std::string& host) const;

  size_t waiting() const { return waiting_; }
  // The waits so far (a host still out of tokens counts up to its last TakeReady).
  const ThrottleTimes& throttle_times() const { return times_; }
  // `host`'s request rate now (the flag's, lowered by the server's pushback); 0 without --rate.
  double RateOf(const std::string& host) const;

 private:
  enum class State { kOpen, kPaused, kProbing, kDown };
  struct Host {
    State state = State::kOpen;
    size_t active = 0;
    std::deque<uint32_t> queue;
    uint32_t consecutive_failures = 0;
    uint32_t probes_failed = 0;
    uint64_t pause_ms = 0;
    TimePoint until{};        // end of a pause, or the next recheck of a down host
    bool probe_next = false;  // the pause ends in a probe (connection failures)
    bool probe_out = false;   // the probe (probe_id) is on the wire
    uint32_t probe_id = 0;
    bool listed = false;  // in runnable_
    // Token bucket (rate > 0): tokens at `filled`; the host's rate now; whether it waits in
    // throttled_ for its next token, since `throttled_since`.
    double tokens = 0;
    TimePoint filled{};
    double rate = 0;
    bool throttled = false;
    TimePoint throttled_since{};
  };

  Host& Find(const std::string& name, TimePoint now);
  // Tops up the bucket to `now`; whether a token is there to take.
  bool HasToken(Host& host, TimePoint now) const;
  // Puts a host without a token in throttled_ until its next token.
  void Throttle(const std::string& name, Host& host, TimePoint now);
  void Unthrottle(Host& host, TimePoint now);
  void Pause(Host& host, uint64_t ms, TimePoint now, bool probe);
  void GoDown(Host& host, TimePoint now);
  void Wake(Host& host);
  size_t Limit(const Host& host) const;
  void List(const std::string& name, Host& host);
  void Forget(const std::string& name, TimePoint now);
  std::string DownMessage(const Host& host) const;

  const HostGateOptions options_;
  std::unordered_map<std::string, Host> hosts_;
  std::deque<std::string> runnable_;    // hosts that may have a download to start
  std::vector<std::string> paused_;     // hosts in kPaused (few at a time)
  std::vector<std::string> throttled_;  // hosts waiting for a token
  double burst_ = 1;
  ThrottleTimes times_;
  std::vector<std::pair<uint32_t, std::string>> failed_;
  size_t waiting_ = 0;
};

}  // namespace pixelmill
