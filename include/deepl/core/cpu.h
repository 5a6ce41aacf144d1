#pragma once
// What the processor this process runs on can do, read once from the CPU itself (cpuid on x86-64,
// /proc/cpuinfo elsewhere): enough to choose a numeric format, and to name the machine in run
// manifests, benchmark results and bug reports.
#include <string>

namespace deepl {

struct CpuInfo {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  std::string model;   // the brand string, e.g. "AMD EPYC 7B13"
  int logical_cores = 1;
  // Each flag means the CPU has the feature and the OS saves its registers (so it can be used).
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512_bf16 = false;
  bool amx_bf16 = false;

  /// True where bfloat16 matmuls and convolutions run in hardware (AVX512_BF16 or AMX-BF16);
  /// elsewhere LibTorch's bf16 kernels fall back to slow conversions (16x slower than fp32 measured).
  bool native_bf16() const { return avx512_bf16 || amx_bf16; }
  /// The highest vector level, oneDNN's names: "avx512_core_amx", "avx512_core_bf16",
  /// "avx512_core", "avx2", or "baseline".
  std::string isa_level() const;
  /// One line: "AMD EPYC 7B13 (2 cores, avx2, no native bf16)".
  std::string summary() const;
};

/// The CPU of this machine, detected on first use.
const CpuInfo& cpu_info();

}  // namespace deepl
