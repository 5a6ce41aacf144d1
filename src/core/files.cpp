#include "deepl/core/files.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sha2.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "deepl/core/error.h"

namespace deepl {

namespace {
void write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_failure(path.string() + ": write failed: " + std::strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
}
}  // namespace

void ensure_directory(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_failure(dir.string() + ": cannot create folder: " + ec.message());
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  ensure_directory(path.parent_path());
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_failure(tmp.string() + ": cannot create: " + std::strerror(errno));
  try {
    write_all(fd, bytes, tmp);
    if (::fsync(fd) != 0) throw_failure(tmp.string() + ": fsync failed: " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw_failure(path.string() + ": cannot rename temp file into place: " + why);
  }
}

namespace {

uint64_t megabytes_from_env(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(text, &end, 10);
  if (*end != '\0' || mb == 0 || mb > (uint64_t{1} << 24)) {
    throw_usage(fmt::format("environment {}=\"{}\": expected a size in MB between 1 and 16777216", name, text));
  }
  return static_cast<uint64_t>(mb) << 20;
}

InputLimits& limits_storage() {
  static InputLimits limits = [] {
    InputLimits l;
    l.max_file_bytes = megabytes_from_env("DEEPL_MAX_FILE_MB", l.max_file_bytes);
    l.max_decompressed_bytes = megabytes_from_env("DEEPL_MAX_DECOMPRESSED_MB", l.max_decompressed_bytes);
    return l;
  }();
  return limits;
}

}  // namespace

const InputLimits& input_limits() { return limits_storage(); }

void set_input_limits(const InputLimits& limits) { limits_storage() = limits; }

void check_input_size(const std::filesystem::path& path, uint64_t size) {
  if (size > input_limits().max_file_bytes) {
    throw_data(fmt::format("{}: {} bytes, over the {}-byte input limit (raise it with DEEPL_MAX_FILE_MB)",
                           path.string(), size, input_limits().max_file_bytes));
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) check_input_size(path, size);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_data(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw_data(path.string() + ": read failed");
  return out.str();
}

int remove_stale_temp_files(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || !entry.is_regular_file(ec)) continue;
    const std::string pid_text = name.substr(at + 5);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // still running (or not ours to judge)
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

std::string sha256_of_file(const std::filesystem::path& path) {
  char hex[SHA256_DIGEST_STRING_LENGTH];
  if (SHA256File(path.c_str(), hex) == nullptr) {
    throw_data(fmt::format("{}: cannot read it ({})", path.string(), std::strerror(errno)));
  }
  return hex;
}

}  // namespace deepl
