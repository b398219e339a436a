// Status and Result<T>: expected failures as values.
//
// A Status is either ok or carries a Code (common/base/error_code.h: e.g. kBadInput, kIo,
// kHttpStatus), a message a user can act on, and whether trying again may succeed (a
// download's 503 may heal, its 404 will not). Result<T> holds a T or a non-ok Status. Both are
// cheap to move and are [[nodiscard]] so an ignored failure is a compile error. Messages are
// built one way: the failing site writes the reason, and a caller that knows more adds it with
// WithPrefix / WithSuffix, keeping the code; ToString is "code: message".
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/base/error_code.h"

namespace pixelmill {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  // REQUIRES: code != Code::kOk
  static Status Error(Code code, std::string message) {
    assert(code != Code::kOk);
    return Status(code, std::move(message), false);
  }
  // A failure that may heal if the same work is tried again. REQUIRES: code != Code::kOk
  static Status Retryable(Code code, std::string message) {
    assert(code != Code::kOk);
    return Status(code, std::move(message), true);
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return retryable_; }
  // "code: message", or "ok".
  std::string ToString() const {
    return ok() ? "ok" : std::string(CodeName(code_)) + ": " + message_;
  }

  // The same failure, its message led by `prefix` / followed by `suffix`. REQUIRES: !ok()
  Status WithPrefix(std::string_view prefix) const {
    assert(!ok());
    return Status(code_, std::string(prefix) + message_, retryable_);
  }
  Status WithSuffix(std::string_view suffix) const {
    assert(!ok());
    return Status(code_, message_ + std::string(suffix), retryable_);
  }

 private:
  Status(Code code, std::string message, bool retryable)
      : code_(code), message_(std::move(message)), retryable_(retryable) {}

  Code code_ = Code::kOk;
  std::string message_;
  bool retryable_ = false;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok()
  const Status& status() const { return std::get<Status>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pixelmill
