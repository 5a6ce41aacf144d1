#include "deepl/core/cpu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DEEPL_X86 1
#endif

namespace deepl {

namespace {

#ifdef DEEPL_X86
struct Registers {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Registers cpuid(unsigned leaf, unsigned subleaf = 0) {
  Registers r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) r = {};
  return r;
}

bool bit(unsigned value, int n) { return ((value >> n) & 1u) != 0; }

// Which register states the OS saves on a context switch (XCR0); a feature whose registers it
// does not save cannot be used even where cpuid lists it.
uint64_t os_saved_states() {
  if (!bit(cpuid(1).ecx, 27)) return 0;  // no OSXSAVE: xgetbv is not available
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

std::string trim(std::string s) {
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

std::string brand_string() {
  if (cpuid(0x80000000).eax < 0x80000004) return "";
  char brand[49] = {0};
  for (unsigned i = 0; i < 3; ++i) {
    const Registers r = cpuid(0x80000002 + i);
    std::memcpy(brand + 16 * i, &r, 16);
  }
  return trim(brand);
}

void detect_x86(CpuInfo& info) {
  const Registers leaf0 = cpuid(0);
  char vendor[13] = {0};
  std::memcpy(vendor, &leaf0.ebx, 4);
  std::memcpy(vendor + 4, &leaf0.edx, 4);
  std::memcpy(vendor + 8, &leaf0.ecx, 4);
  info.vendor = vendor;
  info.model = brand_string();

  const uint64_t xcr0 = os_saved_states();
  const bool avx_state = (xcr0 & 0x6) == 0x6;             // SSE + AVX registers
  const bool avx512_state = avx_state && (xcr0 & 0xE0) == 0xE0;  // opmask + ZMM registers
  const bool amx_state = (xcr0 & 0x60000) == 0x60000;     // tile config + tile data
  const Registers leaf1 = cpuid(1);
  const unsigned max_leaf = leaf0.eax;
  const Registers leaf7 = max_leaf >= 7 ? cpuid(7, 0) : Registers{};
  const Registers leaf7_1 = max_leaf >= 7 && leaf7.eax >= 1 ? cpuid(7, 1) : Registers{};
  info.fma = avx_state && bit(leaf1.ecx, 12);
  info.avx2 = avx_state && bit(leaf7.ebx, 5);
  info.avx512f = avx512_state && bit(leaf7.ebx, 16);
  info.avx512_bf16 = info.avx512f && bit(leaf7_1.eax, 5);
  info.amx_bf16 = amx_state && bit(leaf7.edx, 22);
}
#endif

// The "model name" line of /proc/cpuinfo, for processors cpuid does not describe.
std::string proc_cpuinfo_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    for (const char* key : {"model name", "Model", "cpu model"}) {
      if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos) {
        std::string v = line.substr(line.find(':') + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  }
  return "";
}

CpuInfo detect() {
  CpuInfo info;
  info.logical_cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef DEEPL_X86
  detect_x86(info);
#endif
  if (info.model.empty()) info.model = proc_cpuinfo_model();
  if (info.model.empty()) info.model = "unknown CPU";
  return info;
}

}  // namespace

std::string CpuInfo::isa_level() const {
  if (amx_bf16) return "avx512_core_amx";
  if (avx512_bf16) return "avx512_core_bf16";
  if (avx512f) return "avx512_core";
  if (avx2) return "avx2";
  return "baseline";
}

std::string CpuInfo::summary() const {
  return fmt::format("{} ({} cores, {}, {})", model, logical_cores, isa_level(),
                     native_bf16() ? "native bf16" : "no native bf16");
}

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

}  // namespace deepl
