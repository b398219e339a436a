// image-api: the image API fixture server used by tests, the demo and load tests of the
// downloader. Serves pictures at /img/<id>.<jpg|png|webp|gif>, gradients drawn at start-up or
// real photos (photo_bank.h), with latency and fault injection chosen by query parameters (see
// fault_plan.h). Run with --help for the flags.
#include <signal.h>
#include <sys/resource.h>
#include <uv.h>
#include <vips/vips8>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/fault_plan.h"
#include "tests/support/http_server.h"
#include "tests/support/image_bank.h"
#include "tests/support/photo_bank.h"

namespace pixelmill::fixture {
namespace {

constexpr char kUsage[] =
    "usage: image-api [--host 127.0.0.1] [--port 0] [--print-port] [--port-file PATH]\n"
    "                 [--latency-ms N] [--jitter-ms N] [--size WxH] [--variants N]\n"
    "                 [--images gradients|photos] [--photo-dir DIR] [--any-host] [--verbose]\n"
    "                 [--control] [--require-header 'NAME: VALUE'] [--refuse-header NAME]\n"
    "\n"
    "  --host ADDR       IPv4 or IPv6 address to bind (default 127.0.0.1; loopback only\n"
    "                    unless --any-host)\n"
    "  --port N          TCP port, 0 for an ephemeral one (default 0)\n"
    "  --print-port      print the bound port alone on a line to stdout\n"
    "  --port-file PATH  write the bound port to PATH (atomically) once listening\n"
    "  --latency-ms N    delay every response by N ms (default 0; ?latency=MS overrides)\n"
    "  --jitter-ms N     add 0..N ms, drawn per response, to --latency-ms (default 0):\n"
    "                    --latency-ms 50 --jitter-ms 100 answers in 50..150 ms\n"
    "  --size WxH        picture size (default 64x64; 512x512 with --images photos, which\n"
    "                    allows at most 4 MP, 4194304 pixels)\n"
    "  --variants N      distinct gradients; /img/<id> serves variant id mod N (default 8)\n"
    "  --images KIND     gradients (default: smooth colour gradients, exact pixels) or photos\n"
    "                    (real photographs: /img/<id> serves photo id mod N, resized and\n"
    "                    centre-cropped to cover the size, encoded once per size and format;\n"
    "                    ?images=photos|gradients overrides it per request)\n"
    "  --photo-dir DIR   the photos: every .jpg, .jpeg, .png and .webp file in DIR (default:\n"
    "                    the colour photos among python3-skimage's sample images, found in\n"
    "                    /usr/lib/python3/dist-packages/skimage/data or where python3 has\n"
    "                    skimage); --images photos exits 2 when there are none\n"
    "  --any-host        allow binding a non-loopback address\n"
    "  --verbose         one line per request on stderr\n"
    "  --require-header H  every request must carry header H ('Name: value'), else 401\n"
    "  --refuse-header N   a request carrying header N gets a 400 (a header that must not\n"
    "                    reach this server, e.g. after a redirect from another host)\n"
    "  --control         answer GET /control?latency_ms=N&jitter_ms=N&tail_pct=P&tail_ms=N&\n"
    "                    pace=BPS&seed=N&mix=KIND:PCT,... (change the defaults while running:\n"
    "                    a load test's phases) and GET /stats (requests and faults injected\n"
    "                    per kind since the last /control). Mix kinds: 5xx 404 429 reset\n"
    "                    truncate hang slow redirect corrupt hostile; an image gets the same\n"
    "                    fault on every request (429: once, with Retry-After: 1)\n"
    "\n"
    "GET /health, GET /img/<id>.<jpg|png|webp|gif>; query parameters: latency=MS, status=CODE,\n"
    "retry_after=S, fail_times=K, redirect=N, redirect_to=URL, bytes=N, rate=BPS,\n"
    "pace=BPS (any body at BPS, e.g. fault=huge_chunked&bytes=N&pace=BPS),\n"
    "pad=BYTES (a .jpg grown to BYTES by comment segments: still a valid image),\n"
    "chunked=1 (any body chunked, without a Content-Length),\n"
    "images=photos|gradients, size=WxH (a photo's size, at most 4 MP; photos only),\n"
    "fault=reset|truncate|drip|hang|huge|huge_chunked|wrongtype|html|corrupt|corrupt_png|"
    "header_only|bomb|poison|close|redirect_loop (a 302 to the request's own URL)|\n"
    "huge_header (one 150 KB header line)|huge_headers (400 KB of 1 KB header lines)|\n"
    "http09 (the body without a status line or headers, then close)\n"
    "\n"
    "Hostile and unusual images, also by fault=NAME (Content-Type in brackets):\n"
    "  bomb_jpeg        JPEG whose SOF declares 65000x65000, then garbage   [image/jpeg]\n"
    "  bomb_gif         GIF declaring 65535x65535, 2 pixels of data         [image/gif]\n"
    "  bomb_png50k      PNG whose IHDR declares 50000x50000                 [image/png]\n"
    "  svg              SVG with an external entity (file:///etc/passwd)   [image/svg+xml]\n"
    "  tiff             real 64x64 TIFF                                     [image/tiff]\n"
    "  heic             real 64x64 HEIC, or an 'ftyp heic' header and       [image/heic]\n"
    "                   garbage where libvips cannot save HEIF\n"
    "  progressive_big  progressive 3000x3000 JPEG                          [image/jpeg]\n"
    "  animated_gif     200 frames of 32x32                                 [image/gif]\n"
    "  animated_webp    200 frames of 32x32                                 [image/webp]\n"
    "  cmyk_jpeg        64x64 CMYK JPEG                                     [image/jpeg]\n"
    "  png16_alpha      64x64 16-bit RGBA PNG                               [image/png]\n"
    "  tiny             1x1 JPEG                                            [image/jpeg]\n"
    "  exif6            40x20 JPEG with EXIF orientation 6                  [image/jpeg]\n"
    "  gps              JPEG whose EXIF holds GPS latitude and longitude    [image/jpeg]\n"
    "  zero             empty body                                          [image/jpeg]\n";

// Photos are 512x512 unless --size says otherwise (the gradients' 64x64 is too small to be a
// photo).
constexpr int kDefaultPhotoSide = 512;

// Flags with their documented defaults.
struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  bool print_port = false;
  std::string port_file;  // empty: none
  uint64_t latency_ms = 0;
  uint64_t jitter_ms = 0;
  int width = 64;
  int height = 64;
  int variants = 8;
  bool size_given = false;
  bool photos = false;    // --images photos
  std::string photo_dir;  // empty: python3-skimage's sample photos
  bool any_host = false;
  bool verbose = false;
  bool control = false;
  std::string require_header;  // "Name: value"
  std::string refuse_header;   // a name
};

template <typename T>
bool ParseNumber(std::string_view text, T min, T max, T& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size() &&
         value >= min && value <= max;
}

// Parses argv into `options`; returns an error message, or nullopt. Sets `help` for --help.
std::optional<std::string> ParseFlags(int argc, char** argv, Options& options, bool& help) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (size_t equals = arg.find('='); arg.substr(0, 2) == "--" && equals != arg.npos) {
      name = arg.substr(0, equals);
      inline_value = arg.substr(equals + 1);
    }
    auto flag_value = [&]() -> std::optional<std::string_view> {
      if (inline_value) return inline_value;
      if (i + 1 < argc) return std::string_view(argv[++i]);
      return std::nullopt;
    };
    auto bad = [&](std::string_view what) { return std::string(name) + ": " + std::string(what); };
    if (name == "--help" || name == "-h") {
      help = true;
    } else if (name == "--print-port") {
      options.print_port = true;
    } else if (name == "--any-host") {
      options.any_host = true;
    } else if (name == "--verbose") {
      options.verbose = true;
    } else if (name == "--control") {
      options.control = true;
    } else if (name == "--host" || name == "--port" || name == "--port-file" ||
               name == "--latency-ms" || name == "--jitter-ms" || name == "--size" ||
               name == "--variants" || name == "--images" || name == "--photo-dir" ||
               name == "--require-header" || name == "--refuse-header") {
      auto value = flag_value();
      if (!value) return bad("needs a value");
      if (name == "--host") {
        options.host = *value;
      } else if (name == "--require-header") {
        if (value->find(':') == value->npos) return bad("expects 'Name: value'");
        options.require_header = *value;
      } else if (name == "--refuse-header") {
        if (value->empty() || value->find(':') != value->npos) return bad("expects a header name");
        options.refuse_header = *value;
      } else if (name == "--port") {
        if (!ParseNumber(*value, 0, 65535, options.port)) return bad("expects 0..65535");
      } else if (name == "--port-file") {
        if (value->empty()) return bad("expects a path");
        options.port_file = *value;
      } else if (name == "--latency-ms" || name == "--jitter-ms") {
        uint64_t& ms = name == "--latency-ms" ? options.latency_ms : options.jitter_ms;
        if (!ParseNumber<uint64_t>(*value, 0, 3'600'000, ms)) return bad("expects 0..3600000");
      } else if (name == "--size") {
        if (!ParsePictureSize(*value, options.width, options.height)) {
          return bad("expects WxH, each 1.." + std::to_string(kMaxPictureSide));
        }
        options.size_given = true;
      } else if (name == "--images") {
        if (*value != "photos" && *value != "gradients") return bad("expects gradients or photos");
        options.photos = *value == "photos";
      } else if (name == "--photo-dir") {
        if (value->empty()) return bad("expects a folder");
        options.photo_dir = *value;
      } else if (!ParseNumber(*value, 1, 4096, options.variants)) {
        return bad("expects 1..4096");
      }
    } else {
      return "unknown argument: " + std::string(arg);
    }
  }
  if (options.photos && !options.size_given) {
    options.width = kDefaultPhotoSide;
    options.height = kDefaultPhotoSide;
  }
  if (options.photos && int64_t{options.width} * options.height > kMaxPhotoPixels) {
    return "--size: photos are at most " + std::to_string(kMaxPhotoPixels) + " pixels (4 MP)";
  }
  return std::nullopt;
}

// Fills `address` from a numeric IPv4 or IPv6 host ("localhost" means 127.0.0.1).
bool ResolveHost(const std::string& host, int port, sockaddr_storage& address, bool& loopback) {
  std::string ip = host == "localhost" ? "127.0.0.1" : host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (uv_ip4_addr(ip.c_str(), port, v4) == 0) {
    loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    return true;
  }
  if (uv_ip6_addr(ip.c_str(), port, v6) == 0) {
    loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    return true;
  }
  return false;
}

// Load tests hold thousands of connections: use every descriptor the hard limit allows.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  rlim_t hard = limit.rlim_max;
  limit.rlim_cur = hard;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0 && hard == RLIM_INFINITY) {
    limit.rlim_cur = 1 << 20;  // Linux refuses infinity above fs.nr_open
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Writes the port to a temporary file and renames it over `path`, so readers never see a
// partial number.
bool WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp." + std::to_string(uv_os_getpid());
  FILE* file = std::fopen(tmp.c_str(), "w");
  if (file == nullptr) return false;
  bool ok = std::fprintf(file, "%d\n", port) > 0;
  ok = std::fclose(file) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

// SIGINT/SIGTERM close the server and the signal handles, so uv_run returns.
struct Shutdown {
  HttpServer* server = nullptr;
  uv_signal_t sigint{};
  uv_signal_t sigterm{};

  static void OnSignal(uv_signal_t* handle, int /*signum*/) {
    static_cast<Shutdown*>(handle->data)->Begin();
  }
  void Begin() {
    server->Close();
    for (uv_signal_t* handle : {&sigint, &sigterm}) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(handle))) {
        uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
      }
    }
  }
};

int Run(const Options& options, const char* argv0) {
  sockaddr_storage address{};
  bool loopback = false;
  if (!ResolveHost(options.host, options.port, address, loopback)) {
    std::fprintf(stderr, "image-api: --host: not a numeric IPv4 or IPv6 address: %s\n",
                 options.host.c_str());
    return 2;
  }
  if (!loopback && !options.any_host) {
    std::fprintf(stderr, "image-api: refusing to bind non-loopback %s without --any-host\n",
                 options.host.c_str());
    return 2;
  }
  // The photos: required with --images photos or --photo-dir, else served on ?images=photos
  // when python3-skimage is installed.
  std::optional<PhotoBank> photos;
  bool need_photos = options.photos || !options.photo_dir.empty();
  std::string photo_dir = options.photo_dir;
  if (photo_dir.empty()) photo_dir = PhotoBank::FindSkimageData();
  std::string photo_error =
      "no python3-skimage sample photos found: install python3-skimage "
      "(scripts/setup.sh does) or pass --photo-dir DIR";
  if (!photo_dir.empty()) {
    photos = PhotoBank::Open(photo_dir, !options.photo_dir.empty(),
                             options.size_given ? options.width : kDefaultPhotoSide,
                             options.size_given ? options.height : kDefaultPhotoSide, photo_error);
  }
  if (need_photos && !photos) {
    std::fprintf(stderr, "image-api: --images photos: %s\n", photo_error.c_str());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();

  if (VIPS_INIT(argv0) != 0) {
    std::fprintf(stderr, "image-api: libvips failed to start: %s\n", vips_error_buffer());
    return 1;
  }
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  std::string error;
  std::optional<ImageBank> bank =
      ImageBank::Create(options.width, options.height, options.variants, error);
  if (!bank) {
    std::fprintf(stderr, "image-api: cannot encode pictures: %s\n", error.c_str());
    return 1;
  }
  if (options.photos && !photos->LoadAll(error)) {
    std::fprintf(stderr, "image-api: --images photos: %s\n", error.c_str());
    return 2;
  }

  uv_loop_t loop;
  if (int rc = uv_loop_init(&loop); rc != 0) {
    std::fprintf(stderr, "image-api: uv_loop_init: %s\n", uv_strerror(rc));
    return 1;
  }
  int status = 0;
  {
    HttpServer server(loop, *bank, photos ? &*photos : nullptr,
                      ServerOptions{.latency_ms = options.latency_ms,
                                    .jitter_ms = options.jitter_ms,
                                    .verbose = options.verbose,
                                    .control = options.control,
                                    .photos = options.photos,
                                    .require_header = options.require_header,
                                    .refuse_header = options.refuse_header});
    Shutdown shutdown;
    shutdown.server = &server;
    for (uv_signal_t* handle : {&shutdown.sigint, &shutdown.sigterm}) {
      uv_signal_init(&loop, handle);
      handle->data = &shutdown;
    }
    uv_signal_start(&shutdown.sigint, Shutdown::OnSignal, SIGINT);
    uv_signal_start(&shutdown.sigterm, Shutdown::OnSignal, SIGTERM);

    if (int rc = server.Listen(reinterpret_cast<const sockaddr&>(address)); rc != 0) {
      std::fprintf(stderr, "image-api: cannot listen on %s:%d: %s\n", options.host.c_str(),
                   options.port, uv_strerror(rc));
      status = 1;
    } else if (!options.port_file.empty() && !WritePortFile(options.port_file, server.port())) {
      std::fprintf(stderr, "image-api: cannot write --port-file %s: %s\n",
                   options.port_file.c_str(), std::strerror(errno));
      status = 1;
    }
    if (status != 0) {
      shutdown.Begin();
    } else if (options.print_port) {
      std::printf("%d\n", server.port());
      std::fflush(stdout);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  if (int rc = uv_loop_close(&loop); rc != 0) {
    std::fprintf(stderr, "image-api: uv_loop_close: %s (a handle leaked)\n", uv_strerror(rc));
    return 1;
  }
  bank.reset();
  photos.reset();
  vips_shutdown();
  return status;
}

}  // namespace
}  // namespace pixelmill::fixture

int main(int argc, char** argv) {
  pixelmill::fixture::Options options;
  bool help = false;
  if (auto error = pixelmill::fixture::ParseFlags(argc, argv, options, help)) {
    std::fprintf(stderr, "image-api: %s\n%s", error->c_str(), pixelmill::fixture::kUsage);
    return 2;
  }
  if (help) {
    std::fputs(pixelmill::fixture::kUsage, stdout);
    return 0;
  }
  return pixelmill::fixture::Run(options, argv[0]);
}
