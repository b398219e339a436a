// PeerText: text that came from the other side of the wire (a worker's id and host, a worker's
// error code and message, a coordinator's Reject reason) made safe for one line of a text log
// and for the manifest. A peer may be hostile: raw newlines would forge log lines ("done: 999
// users, 999 ok") and ANSI escapes would rewrite the terminal. Every string a peer supplies goes
// through this one function before it is kept, logged or written.
//
// Stateless; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pixelmill {

// Longest part of a peer's string that is kept (longer ones are cut, and say so).
inline constexpr size_t kMaxPeerTextBytes = 1024;

// `text` with every byte outside printable ASCII escaped (\n, \r, \t, else \xNN; a backslash
// doubles, so the escaping cannot be forged either), cut after `max_bytes` bytes of input with
// "...(N more bytes)". Printable ASCII passes unchanged.
std::string PeerText(std::string_view text, size_t max_bytes = kMaxPeerTextBytes);

}  // namespace pixelmill
