// Planner: turns one request to the image API fixture server (image-api) into a ResponsePlan,
// which says what to send (status, headers, which body) and how (at once, after a delay,
// slowly, cut short, not at all, or by resetting the connection).
//
// Faults are chosen per request by query parameters, so one server serves a mixed population:
// latency, status, retry_after, fail_times, fault, rate, bytes, redirect, redirect_to, pace,
// pad, chunked, images, size (see Planner::Plan). The planner owns the only cross-request state:
// how often each exact target carrying fail_times was seen, and the seeded generator that draws
// each response's jitter. Pure code, no I/O; one planner per server, one thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tests/support/hostile_images.h"
#include "tests/support/http_request.h"
#include "tests/support/image_bank.h"
#include "tests/support/server_profile.h"

namespace pixelmill::fixture {

enum class BodyKind {
  kText,        // ResponsePlan::text
  kImage,       // the bank's picture for (format, image_id)
  kCorrupt,     // the bank's corrupt JPEG for image_id
  kCorruptPng,  // the bank's corrupt PNG for image_id
  kHeaderOnly,  // the bank's JPEG for image_id cut before its scan: headers, no image data
  kPoison,      // the bank's JPEG for image_id with the crash marker appended
  kBomb,        // the bank's PNG bomb
  kHostile,     // the bank's hostile image `hostile` (hostile_images.h)
  kHuge,        // huge_bytes of filler, streamed
};

enum class Delivery {
  kNormal,    // head and whole body, as fast as the client reads
  kTruncate,  // head with the full length, half the body, then close
  kDrip,      // body at drip_rate bytes per second
  kHang,      // never answer; close when the client does
  kReset,     // close with RST, no response
};

struct ResponsePlan {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  BodyKind body = BodyKind::kText;
  std::string text;  // the body when body == kText
  ImageFormat format = ImageFormat::kJpeg;
  int64_t image_id = 0;
  // The bank's body when body == kHostile.
  HostileKind hostile = HostileKind::kZero;
  uint64_t huge_bytes = 0;  // body length when body == kHuge
  bool chunked = false;     // Transfer-Encoding: chunked instead of Content-Length
  uint64_t pad_to = 0;      // a JPEG body grown to this many bytes (PaddedJpeg); 0: as it is
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Location
  Delivery delivery = Delivery::kNormal;
  uint64_t drip_rate = 100;  // bytes per second when delivery == kDrip
  uint64_t latency_ms = 0;   // delay before anything is sent
  bool close = false;        // send "Connection: close" and close after the response
  bool http09 = false;       // an HTTP/0.9 answer: no status line, no headers, only the body
  // The picture bytes (kImage, kCorrupt, kCorruptPng, kHeaderOnly, kPoison) come from the
  // photo bank (photo_bank.h) instead of the gradients, at photo_width x photo_height (0, 0:
  // the bank's default size); the response names the photo's file in an X-Photo header.
  bool photo = false;
  int photo_width = 0;
  int photo_height = 0;
};

struct PlannerConfig {
  uint64_t latency_ms = 0;  // default delay before every response (--latency-ms)
  std::string authority;    // "host:port" for redirects when a request has no Host header
  // Up to this many ms drawn uniformly and added to the default delay (--jitter-ms), so that
  // responses arrive out of order as from a real API. ?latency=MS stays exact.
  uint64_t jitter_ms = 0;
  uint64_t seed = 1;              // of the jitter generator: the same seed draws the same delays
  bool photos = false;            // serve photos unless ?images=gradients (--images photos)
  bool photos_available = false;  // a photo bank exists: ?images=photos and ?size= work
  bool control = false;           // GET /control and /stats answer (--control): server_profile.h
};

// Parses "WxH" (--size, ?size=), each side 1..kMaxPictureSide; false for anything else.
bool ParsePictureSize(std::string_view text, int& width, int& height);

// Parses "/img/<int64>.<jpg|png|webp|gif>"; false for anything else.
bool ParseImagePath(std::string_view path, int64_t& id, ImageFormat& format);

class Planner {
 public:
  static constexpr uint64_t kDefaultHugeBytes = 64ull << 20;
  static constexpr size_t kMaxTrackedTargets = 1 << 20;

  explicit Planner(PlannerConfig config);

  // The response for `request`. Non-GET gets 405, a bad query parameter 400; otherwise
  // /health is 200 "ok", /img/<id>.<ext> an image, anything else 404, unless the query asks
  // for a fault, status or redirect (fault=redirect_loop: a 302 to the request's own URL).
  // With config.control, GET /control?... changes the profile (server_profile.h) and GET /stats
  // answers the counts. pad=BYTES grows a JPEG image to BYTES (400 for any other body); chunked=1
  // sends any body chunked, without a Content-Length. images=photos|gradients picks the pictures
  // (404 for photos when the server has none); size=WxH sets a photo's size (400 with gradients).
  ResponsePlan Plan(const Request& request);
  // Sets the redirect authority once the listening port is known.
  void set_authority(std::string authority) { config_.authority = std::move(authority); }

 private:
  // /control and /stats.
  ResponsePlan Control(const std::vector<QueryParam>& params);
  // The profile's delay for one response: latency, jitter and the long tail.
  uint64_t ProfileDelayMs();

  PlannerConfig config_;
  ServerProfile profile_;
  ServerCounts counts_;
  std::mt19937_64 jitter_;
  // Requests seen per full target carrying fail_times; cleared when it grows past
  // kMaxTrackedTargets (a load test with unique targets would otherwise grow it forever).
  std::unordered_map<std::string, uint64_t> fault_counts_;
};

// The reason phrase for `status` ("Service Unavailable"), or "Status" if unknown.
std::string_view ReasonPhrase(int status);

}  // namespace pixelmill::fixture
