#include "deepl/report/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace deepl::report {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, int64_t total, bool quiet, int64_t log_every)
    : label_(std::move(label)),
      total_(std::max<int64_t>(1, total)),
      quiet_(quiet),
      terminal_(stdout_is_terminal()),
      log_every_(log_every > 0 ? log_every : std::max<int64_t>(1, total_ / 10)),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

void ProgressBar::update(int64_t done, const std::string& fields) {
  if (quiet_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * done / total_);
    const std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '.');
    fmt::print("\r\033[K{} [{}] {}/{} {} | {} ETA {}", label_, bar, done, total_, fields, format_duration(elapsed),
               format_duration(eta));
    std::fflush(stdout);
    drawn_ = true;
    return;
  }
  if (done - last_logged_ >= log_every_ || done == total_) {
    last_logged_ = done;
    spdlog::info("{} {}/{} {} | {} ETA {}", label_, done, total_, fields, format_duration(elapsed), format_duration(eta));
  }
}

void ProgressBar::finish() {
  if (quiet_ || !drawn_) return;
  fmt::print("\n");
  std::fflush(stdout);
  drawn_ = false;
}

}  // namespace deepl::report
