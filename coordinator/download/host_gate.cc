#include "coordinator/download/host_gate.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

namespace pixelmill {

HostGate::HostGate(HostGateOptions options)
    : options_(options),
      burst_(options.burst > 0 ? options.burst : std::max(1.0, options.rate / 10)) {}

HostGate::Host& HostGate::Find(const std::string& name, TimePoint now) {
  auto [it, added] = hosts_.try_emplace(name);
  if (added && options_.rate > 0) {
    it->second.tokens = burst_;
    it->second.filled = now;
    it->second.rate = options_.rate;
  }
  return it->second;
}

bool HostGate::HasToken(Host& host, TimePoint now) const {
  if (options_.rate <= 0) return true;
  if (now > host.filled) {
    host.tokens = std::min(burst_, host.tokens + host.rate * Seconds(now - host.filled));
    host.filled = now;
  }
  return host.tokens >= 1;
}

void HostGate::Throttle(const std::string& name, Host& host, TimePoint now) {
  if (host.throttled) return;
  host.throttled = true;
  host.throttled_since = now;
  throttled_.push_back(name);
}

void HostGate::Unthrottle(Host& host, TimePoint now) {
  host.throttled = false;
  times_.by_rate_s += Seconds(now - host.throttled_since);
}

double HostGate::RateOf(const std::string& name) const {
  auto it = hosts_.find(name);
  return it == hosts_.end() ? options_.rate : it->second.rate;
}

std::optional<std::string> HostGate::Push(const std::string& name, uint32_t id, TimePoint now,
                                          bool first) {
  Host& host = Find(name, now);
  if (host.state == State::kDown) {
    if (now < host.until) return DownMessage(host);
    host.state = State::kProbing;  // time to look again: this download is the probe
  }
  if (first) {
    host.queue.push_front(id);
  } else {
    host.queue.push_back(id);
  }
  ++waiting_;
  List(name, host);
  return std::nullopt;
}

void HostGate::TakeReady(TimePoint now, size_t max, std::vector<uint32_t>& out) {
  for (size_t i = 0; i < paused_.size();) {
    Host& host = hosts_[paused_[i]];
    if (now < host.until) {
      ++i;
      continue;
    }
    Wake(host);
    List(paused_[i], host);
    paused_[i] = std::move(paused_.back());
    paused_.pop_back();
  }
  for (size_t i = 0; i < throttled_.size();) {
    Host& host = hosts_[throttled_[i]];
    if (!HasToken(host, now)) {
      ++i;
      continue;
    }
    Unthrottle(host, now);
    List(throttled_[i], host);
    throttled_[i] = std::move(throttled_.back());
    throttled_.pop_back();
  }
  while (out.size() < max && !runnable_.empty()) {
    std::string name = std::move(runnable_.front());
    runnable_.pop_front();
    auto it = hosts_.find(name);
    if (it == hosts_.end()) continue;
    Host& host = it->second;
    host.listed = false;
    if (host.queue.empty() || host.active >= Limit(host)) continue;
    if (!HasToken(host, now)) {
      Throttle(name, host, now);
      continue;
    }
    if (options_.rate > 0) host.tokens -= 1;
    out.push_back(host.queue.front());
    host.queue.pop_front();
    if (host.state == State::kProbing) {
      host.probe_out = true;
      host.probe_id = out.back();
    }
    --waiting_;
    ++host.active;
    List(name, host);
  }
}

void HostGate::Finished(const std::string& name, uint32_t id, Outcome outcome,
                        std::optional<uint64_t> retry_after_ms, TimePoint now, bool throttled) {
  auto it = hosts_.find(name);
  assert(it != hosts_.end() && it->second.active > 0);
  Host& host = it->second;
  --host.active;
  const bool probe = host.probe_out && host.probe_id == id;
  if (probe) host.probe_out = false;
  if (options_.rate > 0 && outcome == Outcome::kOk) {
    HasToken(host, now);  // the tokens so far at the old rate
    if (throttled) {
      host.rate = std::max(options_.rate / 16, host.rate / 2);
      ++times_.server_slowdowns;
    } else {
      host.rate = std::min(options_.rate, host.rate + options_.rate / 64);
    }
  }
  if (outcome == Outcome::kOk) {
    host.consecutive_failures = 0;
    if (host.state == State::kProbing || host.state == State::kDown) {
      host.state = State::kOpen;
      host.probes_failed = 0;
      host.pause_ms = 0;
      host.probe_out = false;
    }
    if (retry_after_ms && host.state == State::kOpen) {
      Pause(host, *retry_after_ms, now, false);
      times_.by_server_s += static_cast<double>(host.pause_ms) / 1000;
    }
  } else {
    ++host.consecutive_failures;
    if (host.state == State::kProbing && probe) {
      if (++host.probes_failed >= options_.failed_probes) {
        GoDown(host, now);
      } else {
        Pause(host, host.pause_ms * 2, now, true);
      }
    } else if (host.state == State::kOpen && host.consecutive_failures >= options_.pause_after) {
      Pause(host, options_.first_pause_ms, now, true);
    }
  }
  if (host.state == State::kPaused &&
      std::find(paused_.begin(), paused_.end(), name) == paused_.end()) {
    paused_.push_back(name);
  }
  List(name, host);
  Forget(name, now);
}

std::vector<std::pair<uint32_t, std::string>> HostGate::TakeFailed() {
  return std::exchange(failed_, {});
}

std::optional<TimePoint> HostGate::NextWake() const {
  std::optional<TimePoint> next;
  for (const std::string& name : paused_) {
    const Host& host = hosts_.at(name);
    if (!next || host.until < *next) next = host.until;
  }
  for (const std::string& name : throttled_) {
    const Host& host = hosts_.at(name);
    // Rounded up to the next microsecond, so the wake-up never comes a hair before the token.
    const double wait_us = std::ceil((1 - host.tokens) / host.rate * 1e6) + 1;
    const TimePoint at = host.filled + std::chrono::microseconds(static_cast<int64_t>(wait_us));
    if (!next || at < *next) next = at;
  }
  return next;
}

bool HostGate::Paused(const std::string& name) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) return false;
  return it->second.state != State::kOpen;
}

void HostGate::Pause(Host& host, uint64_t ms, TimePoint now, bool probe) {
  host.state = State::kPaused;
  host.pause_ms = std::max<uint64_t>(ms, 1);
  host.until = now + std::chrono::milliseconds(host.pause_ms);
  host.probe_next = probe;
}

void HostGate::GoDown(Host& host, TimePoint now) {
  host.state = State::kDown;
  host.until = now + std::chrono::milliseconds(options_.down_recheck_ms);
  const std::string why = DownMessage(host);
  for (uint32_t id : host.queue) failed_.emplace_back(id, why);
  waiting_ -= host.queue.size();
  host.queue.clear();
}

void HostGate::Wake(Host& host) { host.state = host.probe_next ? State::kProbing : State::kOpen; }

size_t HostGate::Limit(const Host& host) const {
  switch (host.state) {
    case State::kOpen:
      return options_.per_host;
    case State::kProbing:
      return 1;
    default:
      return 0;
  }
}

void HostGate::List(const std::string& name, Host& host) {
  if (host.listed || host.throttled || host.queue.empty() || host.active >= Limit(host)) return;
  host.listed = true;
  runnable_.push_back(name);
}

// Drops an idle host's entry; with a rate, only once its bucket is full again and its rate back
// to the flag's (a new entry starts so). (An idle host short of either stays until its next
// download: one entry per host with a rate, which is per API in practice.)
void HostGate::Forget(const std::string& name, TimePoint now) {
  auto it = hosts_.find(name);
  Host& host = it->second;
  if (host.state != State::kOpen || host.active > 0 || !host.queue.empty() ||
      host.consecutive_failures > 0 || host.listed || host.throttled) {
    return;
  }
  if (options_.rate > 0) {
    HasToken(host, now);
    if (host.rate < options_.rate || host.tokens < burst_) return;
  }
  hosts_.erase(it);
}

std::string HostGate::DownMessage(const Host& host) const {
  return "host down: " + std::to_string(host.consecutive_failures) +
         " consecutive connection failures";
}

}  // namespace pixelmill
