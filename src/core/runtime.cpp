#include "deepl/core/runtime.h"

#include <torch/torch.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <chrono>
#include <ctime>
#include <thread>

#include "deepl/git_commit.h"
#include "deepl/version.h"

namespace deepl {

int configure_threads(int requested, int processes_per_machine) {
  int n = requested;
  if (n <= 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n = std::max(1, cores / std::max(1, processes_per_machine));
  }
  at::set_num_threads(n);
  return at::get_num_threads();
}

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // 32 MiB is glibc's largest mmap threshold on 64-bit; a fixed one also stops its dynamic adjustment.
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 256 << 20;
  return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
#else
  return false;
#endif
}

void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  // splitmix64 of the pair: nearby (seed, stream) pairs give unrelated generators.
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + stream + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;
}

std::string deepl_version() { return DEEPL_VERSION; }
std::string libtorch_version() { return TORCH_VERSION; }
std::string git_commit() { return DEEPL_GIT_COMMIT; }

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string utc_now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace deepl
