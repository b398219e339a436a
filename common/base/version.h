// Version numbers shared by the coordinator and the worker.
#pragma once

namespace pixelmill {

inline constexpr const char* kVersion = "0.1.0";
// Wire protocol version carried in Hello/Welcome (proto/pixelmill.proto).
inline constexpr unsigned kProtocolVersion = 1;

}  // namespace pixelmill
