#include "common/wire/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "common/base/string_printf.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;

constexpr size_t kZ85KeyLength = 40;
constexpr std::uintmax_t kMaxCertificateBytes = 64 * 1024;

bool ValidZ85Key(const std::string& text) {
  if (text.size() != kZ85KeyLength) return false;
  std::array<uint8_t, 32> bytes{};
  return zmq_z85_decode(bytes.data(), text.c_str()) != nullptr;
}

// The quoted value of `key = "..."` on one of `text`'s lines, if there is one.
std::optional<std::string> Field(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    if (line.compare(start, key.size(), key) != 0) continue;
    size_t at = line.find_first_not_of(" \t", start + key.size());
    if (at == std::string::npos || line[at] != '=') continue;
    const size_t open = line.find('"', at);
    const size_t close = open == std::string::npos ? open : line.find('"', open + 1);
    if (close == std::string::npos) return std::string();  // present but unquoted: malformed
    return line.substr(open + 1, close - open - 1);
  }
  return std::nullopt;
}

Result<std::string> ReadSmallFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return Status::Error(Code::kUsage, "key file " + path.string() + " is not a regular file" +
                                           (ec ? ": " + ec.message() : std::string()));
  }
  if (fs::file_size(path, ec) > kMaxCertificateBytes || ec) {
    return Status::Error(
        Code::kUsage, "key file " + path.string() + " is not a certificate (larger than 64 KiB)");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) {
    return Status::Error(Code::kIo,
                         "cannot read key file " + path.string() + ": " + std::strerror(errno));
  }
  return text.str();
}

// The key `field` of the certificate text, checked.
Result<std::string> KeyField(const std::string& text, const std::string& field,
                             const fs::path& path) {
  std::optional<std::string> value = Field(text, field);
  if (!value) {
    return Status::Error(Code::kUsage, "key file " + path.string() + " has no " + field +
                                           " (a certificate from `pixelmill-keygen NAME`)");
  }
  if (!ValidZ85Key(*value)) {
    return Status::Error(Code::kUsage, "key file " + path.string() + ": its " + field +
                                           " is not a 40-character Z85 key");
  }
  return *value;
}

Status WriteNew(const fs::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status::Error(errno == EEXIST ? Code::kExists : Code::kIo,
                         "cannot create " + path.string() + ": " + std::strerror(errno) +
                             (errno == EEXIST ? " (keys are never overwritten; choose another "
                                                "NAME or remove the old pair)"
                                              : ""));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status::Error(Code::kIo, "cannot write " + path.string() + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::Error(Code::kIo, "cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

std::string Certificate(const CurveKeyPair& keys, bool secret, const std::string& tool) {
  char when[32] = {};
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::string text = StringPrintf("#   ****  Generated on %s by %s  ****\n", when, tool.c_str());
  text += secret ? "#   ZeroMQ CURVE **Secret** Certificate\n"
                   "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
                 : "#   ZeroMQ CURVE Public Certificate\n"
                   "#   Exchange securely, or use a secure mechanism to verify the contents\n"
                   "#   of this file after exchange. Store public certificates in your home\n"
                   "#   directory, in the .curve subdirectory.\n";
  text += "\nmetadata\ncurve\n    public-key = \"" + keys.public_key + "\"\n";
  if (secret) text += "    secret-key = \"" + keys.secret_key + "\"\n";
  return text;
}

}  // namespace

Result<CurveKeyPair> NewCurveKeyPair() {
  std::array<char, kZ85KeyLength + 1> public_key{}, secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    return Status::Error(Code::kInternal, "this libzmq cannot make CURVE keys: " +
                                              std::string(zmq_strerror(zmq_errno())));
  }
  return CurveKeyPair{public_key.data(), secret_key.data()};
}

Status WriteCertificates(const fs::path& dir, const std::string& name, const CurveKeyPair& keys,
                         const std::string& tool) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return Status::Error(Code::kUsage,
                         "a key NAME is a file name: not empty, no '/', not "
                         "starting with '.' (got \"" +
                             name + "\")");
  }
  const fs::path public_path = dir / (name + ".key"), secret_path = dir / (name + ".key_secret");
  std::error_code ec;
  if (fs::exists(public_path, ec) || fs::exists(secret_path, ec)) {
    return Status::Error(Code::kExists, public_path.string() + " or " + secret_path.string() +
                                            " exists: keys are never overwritten; choose "
                                            "another NAME or remove the old pair");
  }
  if (Status s = WriteNew(secret_path, Certificate(keys, true, tool), 0600); !s.ok()) return s;
  return WriteNew(public_path, Certificate(keys, false, tool), 0644);
}

Result<std::string> ReadPublicCertificate(const fs::path& path) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  return KeyField(text.value(), "public-key", path);
}

Result<CurveKeyPair> ReadSecretCertificate(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::Error(Code::kUsage,
                         "cannot open key file " + path.string() + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::Error(
        Code::kUsage,
        StringPrintf("secret key file %s is readable by group or others (mode %04o): run "
                     "`chmod 600 %s`",
                     path.c_str(), static_cast<unsigned>(st.st_mode & 07777), path.c_str()));
  }
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  Result<std::string> public_key = KeyField(text.value(), "public-key", path);
  if (!public_key.ok()) return public_key.status();
  Result<std::string> secret_key = KeyField(text.value(), "secret-key", path);
  if (!secret_key.ok()) return secret_key.status();
  // The pair must belong together: a public key pasted from another certificate would make
  // every peer refuse the handshake with no hint why.
  std::array<char, kZ85KeyLength + 1> derived{};
  if (zmq_curve_public(derived.data(), secret_key.value().c_str()) != 0 ||
      public_key.value() != derived.data()) {
    return Status::Error(Code::kUsage, "key file " + path.string() +
                                           ": its public-key does not belong to its secret-key");
  }
  return CurveKeyPair{std::move(public_key).value(), std::move(secret_key).value()};
}

Result<std::map<std::string, std::string>> ReadAllowList(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::Error(Code::kUsage, "--allow-workers " + dir.string() +
                                           " is not a folder of worker certificates (NAME.key)");
  }
  std::map<std::string, std::string> keys;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".key") continue;
    Result<std::string> key = ReadPublicCertificate(entry.path());
    if (!key.ok()) return key.status();
    keys.emplace(key.value(), entry.path().stem().string());
  }
  if (ec) {
    return Status::Error(Code::kIo, "cannot list " + dir.string() + ": " + ec.message());
  }
  return keys;
}

std::string KeyFingerprint(const std::string& public_key) { return public_key.substr(0, 8); }

}  // namespace pixelmill
