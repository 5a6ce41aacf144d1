#pragma once
// NetworkImpl: the base of deepl's models. A network is an ordered list of stages, each a
// torch::nn::Sequential; forward runs them in order. A stage named "" registers its layers directly
// under their indices ("1.weight"), a named stage under its name ("features.0.weight"), so the
// state dict has the names the equivalent PyTorch nn.Sequential / torchvision model has.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace deepl::models {

class NetworkImpl : public torch::nn::Module {
 public:
  struct Stage {
    std::string name;
    torch::nn::Sequential layers;
  };

  virtual ~NetworkImpl() = default;
  /// Runs every stage in order.
  virtual torch::Tensor forward(torch::Tensor x);
  const std::vector<Stage>& stages() const { return stages_; }

 protected:
  void add_stage(const std::string& name, torch::nn::Sequential layers);

 private:
  std::vector<Stage> stages_;
};
TORCH_MODULE(Network);

/// The activation layer called `name` (relu, tanh, sigmoid, gelu, leaky_relu, elu).
void push_activation(torch::nn::Sequential& seq, const std::string& name);

}  // namespace deepl::models
