#include "deepl/core/system_info.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <fstream>

#include "deepl/core/cpu.h"
#include "deepl/core/runtime.h"

namespace deepl {

namespace {

using nlohmann::json;

std::string os_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "unknown";
}

// Looked up at run time: which BLAS and oneDNN the dynamic linker actually loaded (Debian chooses
// libblas.so.3 by alternatives, so LibTorch's build flags cannot tell).
template <typename F>
F runtime_symbol(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_DEFAULT, name));
}

json blas_info() {
  const auto config = runtime_symbol<const char* (*)()>("openblas_get_config");
  const auto core = runtime_symbol<const char* (*)()>("openblas_get_corename");
  if (!config) return {{"library", "not OpenBLAS (reference BLAS is about 7x slower for the MLPs)"}};
  const auto parallel = runtime_symbol<int (*)()>("openblas_get_parallel");
  const char* const kinds[] = {"sequential", "pthreads", "OpenMP"};
  const int p = parallel ? parallel() : -1;
  return {{"library", "OpenBLAS"},
          {"config", config()},
          {"core", core ? core() : "unknown"},
          {"threading", p >= 0 && p <= 2 ? kinds[p] : "unknown"}};
}

// oneDNN's dnnl_cpu_isa_t values that mean the same in oneDNN 2.x and 3.x.
std::string onednn_isa_name(int isa) {
  switch (isa) {
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    default: return isa >= 0x3e7 ? fmt::format("avx512_core_amx or newer (0x{:x})", isa) : fmt::format("0x{:x}", isa);
  }
}

json onednn_info() {
  const auto isa = runtime_symbol<int (*)()>("dnnl_get_effective_cpu_isa");
  return {{"enabled", at::hasMKLDNN()}, {"effective_isa", isa ? onednn_isa_name(isa()) : "unknown"}};
}

json cuda_info() {
  const bool available = torch::cuda::is_available();
  return {{"available", available},
          {"devices", available ? static_cast<int64_t>(torch::cuda::device_count()) : 0},
          {"cudnn", available && torch::cuda::cudnn_is_available()}};
}

}  // namespace

nlohmann::json system_info() {
  const CpuInfo& cpu = cpu_info();
  return {{"deepl_version", deepl_version()},
          {"git_commit", git_commit()},
          {"libtorch_version", libtorch_version()},
          {"os", os_name()},
          {"cpu",
           {{"vendor", cpu.vendor},
            {"model", cpu.model},
            {"logical_cores", cpu.logical_cores},
            {"isa_level", cpu.isa_level()},
            {"avx2", cpu.avx2},
            {"fma", cpu.fma},
            {"avx512f", cpu.avx512f},
            {"avx512_bf16", cpu.avx512_bf16},
            {"amx_bf16", cpu.amx_bf16},
            {"native_bf16", cpu.native_bf16()}}},
          {"auto_precision", cpu.native_bf16() ? "bf16" : "fp32"},
          {"intra_op_threads", at::get_num_threads()},
          {"blas", blas_info()},
          {"onednn", onednn_info()},
          {"cuda", cuda_info()}};
}

std::string system_report() {
  const json i = system_info();
  const json& cpu = i["cpu"];
  const json& blas = i["blas"];
  std::string out;
  out += fmt::format("deepl {} (commit {})\n", i["deepl_version"].get<std::string>(), i["git_commit"].get<std::string>());
  out += fmt::format("LibTorch {}\n", i["libtorch_version"].get<std::string>());
  out += fmt::format("OS: {}\n", i["os"].get<std::string>());
  out += fmt::format("CPU: {} ({} logical cores)\n", cpu["model"].get<std::string>(), cpu["logical_cores"].get<int>());
  out += fmt::format("ISA level: {} (AVX2 {}, FMA {}, AVX-512 {}, AVX512_BF16 {}, AMX-BF16 {})\n",
                     cpu["isa_level"].get<std::string>(), cpu["avx2"].dump(), cpu["fma"].dump(), cpu["avx512f"].dump(),
                     cpu["avx512_bf16"].dump(), cpu["amx_bf16"].dump());
  out += fmt::format("native bf16: {} (train.precision \"auto\" picks {})\n", cpu["native_bf16"].get<bool>() ? "yes" : "no",
                     i["auto_precision"].get<std::string>());
  out += fmt::format("intra-op threads: {} (LibTorch's default; deepl runs use the config's `threads`, 0 = all {} cores)\n",
                     i["intra_op_threads"].get<int>(), cpu["logical_cores"].get<int>());
  out += fmt::format("BLAS: {}", blas["library"].get<std::string>());
  if (blas.contains("config")) {
    out += fmt::format(" ({}; core {}; {})", blas["config"].get<std::string>(), blas["core"].get<std::string>(),
                       blas["threading"].get<std::string>());
  }
  out += "\n";
  out += fmt::format("oneDNN: {} (effective ISA {})\n", i["onednn"]["enabled"].get<bool>() ? "enabled" : "not built in",
                     i["onednn"]["effective_isa"].get<std::string>());
  out += fmt::format("CUDA: {}\n", i["cuda"]["available"].get<bool>()
                                       ? fmt::format("available, {} device(s)", i["cuda"]["devices"].get<int64_t>())
                                       : std::string("not available"));
  out += "\nLibTorch build configuration:\n" + at::show_config();
  out += "\nLibTorch parallel configuration:\n" + at::get_parallel_info();
  return out;
}

}  // namespace deepl
