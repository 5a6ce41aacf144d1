#pragma once
// deepl::Error: the one exception type of the library. It carries what went wrong, where (a file,
// a JSON pointer, a tensor name: already part of the message) and which kind of failure it is, so
// each app's main can print one line and map the kind to an exit code.
#include <stdexcept>
#include <string>

namespace deepl {

enum class ErrorKind {
  kFailure = 1,  // anything else: I/O, numerical trouble, internal errors
  kUsage = 2,    // bad command line or experiment config
  kData = 3,     // missing, corrupt or inconsistent data files
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return static_cast<int>(kind_); }

 private:
  ErrorKind kind_;
};

/// Throws a usage/config error.
[[noreturn]] void throw_usage(const std::string& message);
/// Throws a data error.
[[noreturn]] void throw_data(const std::string& message);
/// Throws a general failure.
[[noreturn]] void throw_failure(const std::string& message);

}  // namespace deepl
