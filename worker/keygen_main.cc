// pixelmill-keygen: writes a CurveZMQ certificate pair for a coordinator or a worker host.
//
//   pixelmill-keygen [--dir DIR] NAME   ->  DIR/NAME.key (public), DIR/NAME.key_secret (0600)
//
// The coordinator's NAME.key goes to every worker host (--server-key); each worker host's
// NAME.key goes into the coordinator's --allow-workers folder. Secret files never leave the
// machine they were made on.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "common/base/version.h"
#include "common/wire/curve_keys.h"

int main(int argc, char** argv) {
  std::string dir = ".", name;
  CLI::App app{
      "pixelmill-keygen: writes DIR/NAME.key (public certificate, give it to the other side)\n"
      "and DIR/NAME.key_secret (mode 0600, keep it here) for CurveZMQ between the coordinator\n"
      "and workers on other machines. Existing files are never overwritten.\n"
      "Exit codes: 0 written; 1 not written; 2 usage."};
  app.set_version_flag("--version", std::string(pixelmill::kVersion));
  app.add_option("--dir", dir, "folder to write the two files into (default: .)");
  app.add_option("NAME", name, "the certificate's name, e.g. the host's name")->required();
  CLI11_PARSE(app, argc, argv);
  pixelmill::Result<pixelmill::CurveKeyPair> keys = pixelmill::NewCurveKeyPair();
  pixelmill::Status written =
      keys.ok() ? pixelmill::WriteCertificates(dir, name, keys.value(), "pixelmill-keygen")
                : keys.status();
  if (!written.ok()) {
    std::fprintf(stderr, "pixelmill-keygen: %s\n", written.message().c_str());
    return written.code() == pixelmill::Code::kUsage ? 2 : 1;
  }
  std::printf("%s/%s.key\n%s/%s.key_secret\n", dir.c_str(), name.c_str(), dir.c_str(),
              name.c_str());
  return 0;
}
