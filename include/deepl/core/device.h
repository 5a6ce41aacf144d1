#pragma once
// Where a run computes: "cpu", "cuda", "cuda:N", or "auto" (CUDA when this LibTorch build has it
// and a device is visible, else the CPU). Data sets stay in host memory; batches, the model, its
// optimizer state and metrics live on the device; checkpoints always hold CPU tensors.
#include <torch/types.h>

#include <string>

namespace deepl {

struct DeviceChoice {
  torch::Device device = torch::kCPU;
  std::string reason;  // "auto: no CUDA device", "asked for"
};

/// Resolves a device string; a CUDA request that this build or machine cannot serve is a usage
/// error naming why (exit 2). `pointer` names the config field in the message.
DeviceChoice resolve_device(const std::string& spec, const std::string& pointer = "/device");

/// The device of a module's parameters (the CPU for a module without any).
torch::Device device_of(const torch::nn::Module& module);

}  // namespace deepl
