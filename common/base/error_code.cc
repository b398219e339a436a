#include "common/base/error_code.h"

#include <cassert>

namespace pixelmill {
namespace {

// The internal codes' names; the manifest codes' are in ManifestCodes().
struct InternalName {
  Code code;
  std::string_view name;
};
constexpr InternalName kInternalNames[] = {
    {Code::kOk, "ok"},
    {Code::kIo, "io"},
    {Code::kFull, "full"},
    {Code::kMissing, "missing"},
    {Code::kBadState, "bad_state"},
    {Code::kBadInput, "bad_input"},
    {Code::kUsage, "usage"},
    {Code::kInterrupted, "interrupted"},
    {Code::kUnknownFilter, "unknown_filter"},
    {Code::kBadFilterArgument, "bad_filter_argument"},
    {Code::kBind, "bind"},
    {Code::kSpawn, "spawn"},
    {Code::kMalformed, "malformed"},
    {Code::kExists, "exists"},
    {Code::kBusy, "busy"},
    {Code::kLimit, "limit"},
    {Code::kNotDone, "not_done"},
};

}  // namespace

const std::vector<ManifestCodeInfo>& ManifestCodes() {
  static const std::vector<ManifestCodeInfo> kCodes = {
      {Code::kBadUrl, "bad_url",
       "not an absolute `http://` or `https://` URL with a host, or it holds a control byte",
       "fix the record in the input"},
      {Code::kBlockedAddress, "blocked_address",
       "the host (or a redirect's) resolved to a loopback, private, link-local (cloud metadata), "
       "CGNAT, multicast or reserved address, refused before connecting",
       "nothing, if the URL is hostile. An image API on your own private network needs "
       "`--allow-private-networks` (which allows every such address)"},
      {Code::kDns, "dns", "the host name did not resolve",
       "check the name and the machine's resolver"},
      {Code::kConnect, "connect",
       "refused or reset, retried `--retries` times; or \"host down\" after 5 failures in a row "
       "and 3 failed probes",
       "the API is down or refusing: `--resume --retry-failed` once it is back"},
      {Code::kTimeout, "timeout",
       "no complete answer within `--timeout` (or under 1 B/s for 10 s), after the retries",
       "a slow API: raise `--timeout`; if it slows down under load, lower `--per-host`"},
      {Code::kTruncated, "truncated", "the body ended before its Content-Length, after the retries",
       "a flaky connection or API: `--resume --retry-failed` later"},
      {Code::kHttpStatus, "http_status",
       "any status but 200/203: other 4xx at once, 5xx and 429 after the retries",
       "404/410: the image is gone. 401/403: the URL lacks its credentials. 429/503: the API "
       "throttles; lower `--per-host` and retry later"},
      {Code::kTooLarge, "too_large",
       "larger than `--max-image-bytes` (from Content-Length, or as the body streamed)",
       "raise `--max-image-bytes` if such images are legitimate"},
      {Code::kTooManyRedirects, "too_many_redirects", "more than 5 redirects (a loop, usually)",
       "the API's problem; the message has the URL"},
      {Code::kTls, "tls", "TLS handshake or certificate check failed",
       "the server's certificate or the machine's CA store; verification is never turned off"},
      {Code::kBadResponse, "bad_response",
       "the server's answer is not usable HTTP: an HTTP/0.9 reply (no status line), a response "
       "header over libcurl's 100 KB limit, response headers over its 300 KB limit, or a malformed "
       "status line; not retried",
       "the API's (or a proxy's) fault: report it to them; the message says which"},
      {Code::kNetwork, "network", "any other transfer error (the message has curl's)",
       "read the message"},
      {Code::kNotImage, "not_image",
       "the body is not a usable JPEG, PNG, WebP, GIF, AVIF or TIFF (checked from its bytes, "
       "whatever its Content-Type): an HTML error page sent as 200, an empty body, a header "
       "without image data, HEIC, SVG",
       "often an API answering an error with 200: fetch the URL by hand"},
      {Code::kDecodeError, "decode_error",
       "truncated or corrupt image data (a garbled but complete JPEG scan is decoded, see "
       "\"Filters\")",
       "the source image is broken"},
      {Code::kUnsupportedFormat, "unsupported_format",
       "a TIFF or AVIF: an image, but only JPEG, PNG, WebP and GIF are decoded (with `--filter "
       "none` it is saved as it came)",
       "convert at the source"},
      {Code::kTooManyPixels, "too_many_pixels",
       "the header declares more than `--max-pixels` (progressive JPEG, interlaced PNG: 8,000,000)",
       "a decompression bomb, or a huge photo: raise `--max-pixels` if legitimate (each local "
       "worker's memory cap grows with it)"},
      {Code::kTooManyFrames, "too_many_frames", "an animation of more than 100 frames",
       "none: refused by design"},
      {Code::kWorkerDied, "worker_died",
       "every worker that took the job died, `--max-attempts` times (`worker died with signal 9 "
       "(Killed); gave up after 3 attempts`)",
       "the message has the signal or exit status. An abort (signal 6) or a kill (signal 9) on "
       "this image only is usually the image exhausting a worker's memory cap "
       "(`--worker-memory-mb`) or the machine's memory; on every image, see \"No workers\" below"},
      {Code::kJobTimeout, "job_timeout",
       "every worker that took the job held it past `--job-timeout`",
       "a filter that heavy needs a longer `--job-timeout`; otherwise a hung worker (it was killed "
       "and replaced)"},
      {Code::kBadResult, "bad_result",
       "workers returned bytes that are not a valid image in the format asked for",
       "a broken or mismatched worker build: rebuild, check remote workers' versions"},
      {Code::kNoWorkers, "no_workers",
       "no worker can come: local ones keep dying before they join, or no remote one joined within "
       "`--remote-wait`",
       "see \"No workers\" below"},
      {Code::kWrite, "write",
       "the image could not be saved (not for lack of space: that stops the run, see below)",
       "the message has the path and the system's error: permissions, a broken file system"},
      {Code::kInternal, "internal",
       "a filter threw, libvips did not start, or libcurl could not allocate",
       "a bug: report it with the message"},
      {Code::kOverCapacity, "over_capacity", "a worker was sent more jobs than its capacity",
       "a bug, or a remote worker from another build: report it with the message"},
      {Code::kFilter, "filter",
       "a worker reported a failure without a code, or with one this table does not hold (the "
       "worker's code leads the message)",
       "a remote worker from another build: check its version; otherwise a bug, report it with the "
       "message"},
  };
  return kCodes;
}

std::string_view CodeName(Code code) {
  for (const ManifestCodeInfo& info : ManifestCodes()) {
    if (info.code == code) return info.name;
  }
  for (const InternalName& entry : kInternalNames) {
    if (entry.code == code) return entry.name;
  }
  assert(false && "a Code without a name");
  return "internal";
}

std::optional<Code> CodeFromName(std::string_view name) {
  for (const ManifestCodeInfo& info : ManifestCodes()) {
    if (info.name == name) return info.code;
  }
  for (const InternalName& entry : kInternalNames) {
    if (entry.name == name) return entry.code;
  }
  return std::nullopt;
}

bool IsManifestCode(Code code) {
  for (const ManifestCodeInfo& info : ManifestCodes()) {
    if (info.code == code) return true;
  }
  return false;
}

std::ostream& operator<<(std::ostream& os, Code code) { return os << CodeName(code); }

}  // namespace pixelmill
