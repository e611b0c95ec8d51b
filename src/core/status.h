// Status and Result<T>: errors as values, used across every module edge.
//
//   Result<Resource> r = store.Get(key);
//   if (!r.ok()) return r.status().WithContext("loading job");
//   ASSIGN_OR_RETURN(auto res, store.Get(key));
//
// A Status carries a code that maps one-to-one onto an HTTP status, so the API layer can turn any
// error from below into a response without guessing. Thread-compatible value types.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace skiff {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // 400: the caller sent something malformed or out of range
  kInvalid,             // 422: a well-formed object its kind's schema or rules refuse (causes)
  kUnauthenticated,     // 401: no or bad credentials
  kPermissionDenied,    // 403: authenticated but not allowed
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kConflict,            // 409: stale resourceVersion
  kFailedPrecondition,  // 412/400: the state does not allow the operation
  kResourceExhausted,   // 413/429
  kUnavailable,         // 503: try again later (dead process, closed socket, shutting down)
  kDeadlineExceeded,    // 504
  kExpired,             // 410: a version the change feed no longer has (compacted): list afresh
  kUnimplemented,       // 501
  kInternal,            // 500: a bug or an unexpected failure below us
};

const char* StatusCodeName(StatusCode code);
int HttpStatusFor(StatusCode code);

// One offending field of a kInvalid status (a Kubernetes Status cause).
struct StatusCause {
  std::string field;  // "spec.enabled"
  // What is wrong, without the field (clients print "FIELD: MESSAGE"): "expected boolean, got
  // string".
  std::string message;
  std::string reason;  // "FieldValueTypeInvalid"
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(StatusCode code, std::string message, std::vector<StatusCause> causes)
      : code_(code), message_(std::move(message)), causes_(std::move(causes)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<StatusCause>& causes() const { return causes_; }

  // Returns a copy whose message is prefixed by `context: `. Ok stays ok.
  Status WithContext(const std::string& context) const;
  // "NotFound: message".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::vector<StatusCause> causes_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status Invalid(std::string m, std::vector<StatusCause> causes) {
  return {StatusCode::kInvalid, std::move(m), std::move(causes)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}

// Result<T> holds either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  // The value, or `fallback` when there is none.
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }
  T value_or(T fallback) && { return ok() ? std::move(*this).value() : std::move(fallback); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace skiff

#define SKIFF_CONCAT_INNER(a, b) a##b
#define SKIFF_CONCAT(a, b) SKIFF_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)     \
  do {                            \
    ::skiff::Status _st = (expr); \
    if (!_st.ok()) return _st;    \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SKIFF_CONCAT(_result_, __LINE__), lhs, expr)
