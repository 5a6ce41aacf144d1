#pragma once
// model.type "torchscript": a network designed in Python, saved with torch.jit.script(m).save()
// (or torch.jit.trace), trained by deepl. Its parameters and buffers are registered under their
// Python names ("branch.0.weight"), so deepl's optimizers, checkpoints, weight averaging and
// data-parallel gradients treat it as any built-in model; forward and train/eval mode go to the
// TorchScript module, which shares the tensors.
#include <torch/script.h>

#include <filesystem>
#include <memory>

#include "deepl/models/network.h"

namespace deepl::models {

class TorchScriptNetworkImpl : public NetworkImpl {
 public:
  explicit TorchScriptNetworkImpl(torch::jit::Module module);

  /// The module's forward on `x`; a usage error when it does not return one tensor.
  torch::Tensor forward(torch::Tensor x) override;
  /// Sets the mode of deepl's registration and of every TorchScript submodule (dropout, batch norm).
  void train(bool on = true) override;
  /// The TorchScript module, holding the trained weights.
  torch::jit::Module& module() { return module_; }

 private:
  torch::jit::Module module_;
};
TORCH_MODULE(TorchScriptNetwork);

/// Loads a TorchScript file as a network. One-line errors before training: a file that is not
/// TorchScript (data error, exit 3), a forward that does not take exactly one tensor, or a module
/// without parameters to train, e.g. a frozen one (usage errors, exit 2).
std::shared_ptr<TorchScriptNetworkImpl> load_torchscript(const std::filesystem::path& path);

}  // namespace deepl::models
