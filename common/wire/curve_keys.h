// CurveZMQ keys for workers on other machines: certificates in CZMQ's format, read and written
// with the checks ssh makes of its own keys.
//
// A certificate is a text file, NAME.key (public, shareable) and NAME.key_secret (public and
// secret, mode 0600):
//
//   metadata
//   curve
//       public-key = "<40 Z85 characters>"
//       secret-key = "<40 Z85 characters>"      (NAME.key_secret only)
//
// Keys are only ever read from files (argv is visible to every user of the machine). A secret
// certificate that group or others can read, or that is malformed, is refused with the reason
// and the fix; so is a public one that is malformed.
//
//   Result<CurveKeyPair> own = ReadSecretCertificate("/etc/pixelmill/keys/worker1.key_secret");
//   Result<std::string> server = ReadPublicCertificate("/etc/pixelmill/keys/coordinator.key");
//
// Any thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "common/base/status.h"

namespace pixelmill {

// Keys as Z85 text, 40 characters each (32 bytes).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

// A new key pair from libzmq (libsodium's randomness).
Result<CurveKeyPair> NewCurveKeyPair();

// Writes DIR/NAME.key and DIR/NAME.key_secret (0600), refusing to overwrite either. `tool`
// names the writer in the files' comment.
Status WriteCertificates(const std::filesystem::path& dir, const std::string& name,
                         const CurveKeyPair& keys, const std::string& tool);

// The public key of a certificate (NAME.key or NAME.key_secret).
Result<std::string> ReadPublicCertificate(const std::filesystem::path& path);

// Both keys of a secret certificate; refused if group or others may read it.
Result<CurveKeyPair> ReadSecretCertificate(const std::filesystem::path& path);

// Every DIR/*.key (the admitted workers' public certificates) as public key -> certificate
// name. A malformed one is an error naming it: an allow-list is never read in part.
Result<std::map<std::string, std::string>> ReadAllowList(const std::filesystem::path& dir);

// A short, stable name for a public key in logs, the manifest and the report: its first 8 Z85
// characters.
std::string KeyFingerprint(const std::string& public_key);

}  // namespace pixelmill
