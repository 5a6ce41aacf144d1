#pragma once
// A progress display on fmt: on a terminal a live bar redrawn in place (carriage return + erase),
// elsewhere (CI, pipes) plain spdlog lines every `log_every` steps; silent when quiet.
#include <chrono>
#include <cstdint>
#include <string>

namespace deepl::report {

class ProgressBar {
 public:
  /// `log_every` = 0 picks about ten plain lines per pass.
  ProgressBar(std::string label, int64_t total, bool quiet, int64_t log_every = 0);
  /// Reports `done` of `total` steps with extra fields ("loss 0.123 acc 0.95").
  void update(int64_t done, const std::string& fields);
  /// Ends the bar (newline on a terminal).
  void finish();

  /// Formats seconds as "1m05s" / "12.3s".
  static std::string format_duration(double seconds);

 private:
  std::string label_;
  int64_t total_;
  bool quiet_;
  bool terminal_;
  int64_t log_every_;
  int64_t last_logged_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

/// True when stdout is a terminal.
bool stdout_is_terminal();

}  // namespace deepl::report
