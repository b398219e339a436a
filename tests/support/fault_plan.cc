#include "tests/support/fault_plan.h"

#include <algorithm>
#include <charconv>

namespace pixelmill::fixture {
namespace {

constexpr uint64_t kMaxLatencyMs = 3'600'000;
constexpr uint64_t kMaxHugeBytes = 1ull << 40;
constexpr uint64_t kMaxRedirects = 100;
constexpr uint64_t kMaxCount = 1'000'000'000;
constexpr size_t kHugeHeaderBytes = 150'000;
constexpr size_t kHugeHeadersLines = 400;

ResponsePlan Text(int status, std::string body) {
  ResponsePlan plan;
  plan.status = status;
  plan.text = std::move(body);
  return plan;
}

bool ParseUint(std::string_view text, uint64_t max, uint64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size() && value <= max;
}

// A header value we are willing to echo: visible ASCII only, so no header injection.
bool IsSafeHeaderValue(std::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

const QueryParam* Find(const std::vector<QueryParam>& params, std::string_view key) {
  for (const QueryParam& param : params) {
    if (param.key == key) return &param;
  }
  return nullptr;
}

bool IsKnownFault(std::string_view fault) {
  for (std::string_view known :
       {"reset", "truncate", "drip", "hang", "huge", "huge_chunked", "wrongtype", "html", "corrupt",
        "corrupt_png", "bomb", "close", "poison", "header_only", "redirect_loop", "huge_header",
        "huge_headers", "http09"}) {
    if (fault == known) return true;
  }
  return FindHostile(fault) != nullptr;
}

// The numeric query parameters; absent ones stay nullopt.
struct Numbers {
  std::optional<uint64_t> latency, status, retry_after, fail_times, rate, bytes, redirect, pace,
      pad, chunked;
};

// Parses the numeric parameters; on failure returns the name of the bad one.
std::optional<std::string_view> ParseNumbers(const std::vector<QueryParam>& params,
                                             Numbers& numbers) {
  struct Field {
    std::string_view key;
    uint64_t max;
    std::optional<uint64_t>* out;
  };
  const Field fields[] = {
      {"latency", kMaxLatencyMs, &numbers.latency},
      {"status", 599, &numbers.status},
      {"retry_after", kMaxCount, &numbers.retry_after},
      {"fail_times", kMaxCount, &numbers.fail_times},
      {"rate", kMaxHugeBytes, &numbers.rate},
      {"bytes", kMaxHugeBytes, &numbers.bytes},
      {"redirect", kMaxRedirects, &numbers.redirect},
      {"pace", kMaxHugeBytes, &numbers.pace},
      {"pad", kMaxHugeBytes, &numbers.pad},
      {"chunked", 1, &numbers.chunked},
  };
  for (const Field& field : fields) {
    const QueryParam* param = Find(params, field.key);
    if (param == nullptr) continue;
    uint64_t value = 0;
    if (!ParseUint(param->value, field.max, value)) return field.key;
    *field.out = value;
  }
  // 1xx, 204 and 304 responses cannot carry the text body every fault response has.
  if (numbers.status &&
      (*numbers.status < 200 || *numbers.status == 204 || *numbers.status == 304)) {
    return "status";
  }
  if (numbers.rate && *numbers.rate == 0) return "rate";
  if (numbers.pace && *numbers.pace == 0) return "pace";
  return std::nullopt;
}

// The target with redirect=N replaced by redirect=N-1, as an absolute URL on `authority`.
std::string NextHop(const Request& request, const std::vector<QueryParam>& params,
                    std::string_view authority, uint64_t redirect) {
  std::string url = "http://";
  url.append(authority).append(request.path);
  char separator = '?';
  for (const QueryParam& param : params) {
    url.push_back(separator);
    separator = '&';
    if (param.key == "redirect") {
      url.append("redirect=").append(std::to_string(redirect - 1));
    } else {
      url.append(param.raw);
    }
  }
  return url;
}

}  // namespace

bool ParseImagePath(std::string_view path, int64_t& id, ImageFormat& format) {
  constexpr std::string_view kPrefix = "/img/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  path.remove_prefix(kPrefix.size());
  size_t dot = path.find('.');
  if (dot == std::string_view::npos) return false;
  std::string_view number = path.substr(0, dot);
  std::string_view extension = path.substr(dot + 1);
  if (extension == "jpg") {
    format = ImageFormat::kJpeg;
  } else if (extension == "png") {
    format = ImageFormat::kPng;
  } else if (extension == "webp") {
    format = ImageFormat::kWebp;
  } else if (extension == "gif") {
    format = ImageFormat::kGif;
  } else {
    return false;
  }
  if (number.empty() || number.front() == '+') return false;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), id);
  return error == std::errc() && end == number.data() + number.size();
}

bool ParsePictureSize(std::string_view text, int& width, int& height) {
  size_t x = text.find('x');
  if (x == text.npos) return false;
  uint64_t w = 0;
  uint64_t h = 0;
  if (!ParseUint(text.substr(0, x), kMaxPictureSide, w) ||
      !ParseUint(text.substr(x + 1), kMaxPictureSide, h) || w == 0 || h == 0) {
    return false;
  }
  width = static_cast<int>(w);
  height = static_cast<int>(h);
  return true;
}

Planner::Planner(PlannerConfig config) : config_(std::move(config)), jitter_(config_.seed) {
  profile_.latency_ms = config_.latency_ms;
  profile_.jitter_ms = config_.jitter_ms;
  profile_.seed = config_.seed;
}

ResponsePlan Planner::Control(const std::vector<QueryParam>& params) {
  if (auto error = profile_.Apply(params)) return Text(400, "control: " + *error + "\n");
  counts_ = ServerCounts();
  jitter_.seed(profile_.seed);
  ResponsePlan plan = Text(200, profile_.Json() + "\n");
  plan.content_type = "application/json";
  return plan;
}

uint64_t Planner::ProfileDelayMs() {
  uint64_t ms = profile_.latency_ms;
  if (profile_.jitter_ms > 0) {
    ms += std::uniform_int_distribution<uint64_t>(0, profile_.jitter_ms)(jitter_);
  }
  if (profile_.tail_bp > 0 &&
      std::uniform_int_distribution<uint32_t>(0, 9'999)(jitter_) < profile_.tail_bp) {
    ms += profile_.tail_ms;
  }
  return ms;
}

ResponsePlan Planner::Plan(const Request& request) {
  if (request.method != "GET") {
    ResponsePlan plan = Text(405, "method not allowed\n");
    plan.headers.emplace_back("Allow", "GET");
    plan.latency_ms = profile_.latency_ms;
    return plan;
  }
  auto params = ParseQuery(request.query);
  if (!params) return Text(400, "malformed percent-escape in query\n");
  if (config_.control && request.path == "/control") return Control(*params);
  if (config_.control && request.path == "/stats") {
    ResponsePlan plan = Text(200, counts_.Json() + "\n");
    plan.content_type = "application/json";
    return plan;
  }
  ++counts_.requests;
  // A query-less image request meets the profile's fault for its path, if any.
  std::string profile_query;
  if (request.query.empty() && request.path.rfind("/img/", 0) == 0) {
    if (int kind = profile_.FaultFor(request.path); kind >= 0) {
      ++counts_.injected[static_cast<size_t>(kind)];
      profile_query = kFaultKinds[static_cast<size_t>(kind)].query;
      params = ParseQuery(profile_query);
    }
  }
  Numbers numbers;
  if (auto bad = ParseNumbers(*params, numbers)) {
    return Text(400, "bad query parameter: " + std::string(*bad) + "\n");
  }
  const QueryParam* fault_param = Find(*params, "fault");
  std::string fault = fault_param ? fault_param->value : "";
  if (!fault.empty() && !IsKnownFault(fault)) return Text(400, "unknown fault: " + fault + "\n");
  const QueryParam* redirect_to = Find(*params, "redirect_to");
  if (redirect_to && !IsSafeHeaderValue(redirect_to->value)) {
    return Text(400, "bad query parameter: redirect_to\n");
  }
  bool photo = config_.photos;
  if (const QueryParam* images = Find(*params, "images")) {
    if (images->value != "photos" && images->value != "gradients") {
      return Text(400, "bad query parameter: images (photos or gradients)\n");
    }
    photo = images->value == "photos";
  }
  int photo_width = 0;
  int photo_height = 0;
  if (const QueryParam* size = Find(*params, "size")) {
    if (!ParsePictureSize(size->value, photo_width, photo_height) ||
        int64_t{photo_width} * photo_height > kMaxPhotoPixels) {
      return Text(400, "bad query parameter: size (WxH, at most " +
                           std::to_string(kMaxPhotoPixels) + " pixels)\n");
    }
    if (!photo) return Text(400, "bad query parameter: size (photos only: images=photos)\n");
  }

  // fail_times=K: only the first K requests for this exact target get the status or fault.
  bool faulty = true;
  if (numbers.fail_times) {
    if (fault_counts_.size() >= kMaxTrackedTargets) fault_counts_.clear();
    faulty = ++fault_counts_[request.target + profile_query] <= *numbers.fail_times;
  }
  if (!faulty) {
    fault.clear();
    numbers.status.reset();
  }

  int64_t id = 0;
  ImageFormat format = ImageFormat::kJpeg;
  bool is_image = ParseImagePath(request.path, id, format);

  ResponsePlan plan;
  if (fault == "reset" || fault == "hang") {
    plan.delivery = fault == "reset" ? Delivery::kReset : Delivery::kHang;
  } else if (fault == "redirect_loop") {
    std::string_view authority = IsSafeHeaderValue(request.host) ? request.host : config_.authority;
    plan = Text(302, "redirecting to myself\n");
    plan.headers.emplace_back("Location", "http://" + std::string(authority) + request.target);
  } else if (redirect_to) {
    plan = Text(302, "redirecting\n");
    plan.headers.emplace_back("Location", redirect_to->value);
  } else if (numbers.redirect.value_or(0) > 0) {
    std::string_view authority = IsSafeHeaderValue(request.host) ? request.host : config_.authority;
    plan = Text(302, "redirecting\n");
    plan.headers.emplace_back("Location", NextHop(request, *params, authority, *numbers.redirect));
  } else if (numbers.status) {
    int status = static_cast<int>(*numbers.status);
    plan = Text(status, std::to_string(status) + " " + std::string(ReasonPhrase(status)) + "\n");
    if (numbers.retry_after) {
      plan.headers.emplace_back("Retry-After", std::to_string(*numbers.retry_after));
    }
  } else if (fault == "wrongtype") {
    plan.body = BodyKind::kImage;
    plan.image_id = id;
    plan.content_type = "text/html";
  } else if (fault == "html") {
    plan.text = "<html>not an image</html>";
    plan.content_type = "image/jpeg";
  } else if (fault == "corrupt") {
    plan.body = BodyKind::kCorrupt;
    plan.image_id = id;
    plan.content_type = "image/jpeg";
  } else if (fault == "corrupt_png") {
    plan.body = BodyKind::kCorruptPng;
    plan.image_id = id;
    plan.content_type = "image/png";
  } else if (fault == "header_only") {
    plan.body = BodyKind::kHeaderOnly;
    plan.image_id = id;
    plan.content_type = "image/jpeg";
  } else if (fault == "poison") {
    plan.body = BodyKind::kPoison;
    plan.image_id = id;
    plan.content_type = "image/jpeg";
  } else if (fault == "bomb") {
    plan.body = BodyKind::kBomb;
    plan.content_type = "image/png";
  } else if (const HostileSpec* hostile = FindHostile(fault)) {
    plan.body = BodyKind::kHostile;
    plan.hostile = hostile->kind;
    plan.content_type = hostile->content_type;
  } else if (fault == "huge" || fault == "huge_chunked") {
    plan.body = BodyKind::kHuge;
    plan.huge_bytes = numbers.bytes.value_or(kDefaultHugeBytes);
    plan.chunked = fault == "huge_chunked";
    plan.content_type = "image/jpeg";
  } else if (is_image) {
    plan.body = BodyKind::kImage;
    plan.format = format;
    plan.image_id = id;
    plan.content_type = ContentTypeOf(format);
  } else if (request.path == "/health") {
    plan.text = "ok";
  } else {
    plan = Text(404, "not found\n");
  }

  bool picture = plan.body == BodyKind::kImage || plan.body == BodyKind::kCorrupt ||
                 plan.body == BodyKind::kCorruptPng || plan.body == BodyKind::kHeaderOnly ||
                 plan.body == BodyKind::kPoison;
  if (photo && picture) {
    if (!config_.photos_available) {
      return Text(
          404, "no photos here: install python3-skimage or start image-api with --photo-dir DIR\n");
    }
    plan.photo = true;
    plan.photo_width = photo_width;
    plan.photo_height = photo_height;
  }
  if (fault == "truncate") plan.delivery = Delivery::kTruncate;
  if (fault == "drip") {
    plan.delivery = Delivery::kDrip;
    plan.drip_rate = numbers.rate.value_or(100);
  }
  if (!numbers.pace && profile_.pace > 0) numbers.pace = profile_.pace;
  if (numbers.pace && plan.delivery == Delivery::kNormal) {
    plan.delivery = Delivery::kDrip;  // pace=BPS: any body, a tenth of BPS every 100 ms
    plan.drip_rate = *numbers.pace;
  }
  if (fault == "close") plan.close = true;
  if (numbers.pad) {
    if (plan.body != BodyKind::kImage || plan.format != ImageFormat::kJpeg) {
      return Text(400, "bad query parameter: pad (only a .jpg image is padded)\n");
    }
    plan.pad_to = *numbers.pad;
  }
  if (numbers.chunked.value_or(0) == 1) plan.chunked = true;
  if (fault == "huge_header") {  // one header line past libcurl's 100 KB limit for a header
    plan.headers.emplace_back("X-Filler", std::string(kHugeHeaderBytes, 'h'));
  }
  if (fault == "huge_headers") {  // lines of 1 KB, together past libcurl's 300 KB limit
    for (size_t i = 0; i < kHugeHeadersLines; ++i) {
      plan.headers.emplace_back("X-Filler-" + std::to_string(i), std::string(1000, 'h'));
    }
  }
  if (fault == "http09") {  // the body alone, no status line or headers; the end is the close
    plan.http09 = true;
    plan.close = true;
  }
  if (numbers.latency) {
    plan.latency_ms = *numbers.latency;
  } else {
    plan.latency_ms = ProfileDelayMs();
  }
  return plan;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

}  // namespace pixelmill::fixture
