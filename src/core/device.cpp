#include "deepl/core/device.h"

#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>

#include <cctype>

#include "deepl/core/error.h"
#include "deepl/core/runtime.h"

namespace deepl {

namespace {

// "cuda" -> 0, "cuda:N" -> N, anything else -> -1.
int cuda_index(const std::string& spec) {
  if (spec == "cuda") return 0;
  if (spec.rfind("cuda:", 0) != 0 || spec.size() == 5 || spec.size() > 8) return -1;
  for (size_t i = 5; i < spec.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(spec[i]))) return -1;
  return std::stoi(spec.substr(5));
}

}  // namespace

DeviceChoice resolve_device(const std::string& spec, const std::string& pointer) {
  const bool built_with_cuda = at::hasCUDA();
  const int64_t visible = built_with_cuda && torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  if (spec == "cpu") return {torch::kCPU, "asked for"};
  if (spec == "auto") {
    if (visible > 0) return {torch::Device(torch::kCUDA, 0), fmt::format("auto: {} CUDA device(s) visible", visible)};
    return {torch::kCPU, built_with_cuda ? "auto: no CUDA device visible" : "auto: LibTorch built without CUDA"};
  }
  const int index = cuda_index(spec);
  if (index < 0) throw_usage(fmt::format("{}: \"{}\" is not a device (cpu, cuda, cuda:N or auto)", pointer, spec));
  if (!built_with_cuda) {
    throw_usage(fmt::format("{}: \"{}\" requested, but this LibTorch build ({}) has no CUDA support; use \"cpu\" or \"auto\"",
                            pointer, spec, libtorch_version()));
  }
  if (index >= visible) {
    throw_usage(fmt::format("{}: \"{}\" requested, but {} CUDA device(s) are visible", pointer, spec, visible));
  }
  return {torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index)), "asked for"};
}

torch::Device device_of(const torch::nn::Module& module) {
  const auto params = module.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace deepl
