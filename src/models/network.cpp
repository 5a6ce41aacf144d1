#include "deepl/models/network.h"

#include <torch/torch.h>

#include "deepl/core/error.h"

namespace deepl::models {

torch::Tensor NetworkImpl::forward(torch::Tensor x) {
  for (auto& stage : stages_) x = stage.layers->forward(x);
  return x;
}

void NetworkImpl::add_stage(const std::string& name, torch::nn::Sequential layers) {
  if (name.empty()) {
    for (const auto& child : layers->named_children()) register_module(child.key(), child.value());
  } else {
    register_module(name, layers);
  }
  stages_.push_back({name, std::move(layers)});
}

void push_activation(torch::nn::Sequential& seq, const std::string& name) {
  if (name == "relu") {
    seq->push_back(torch::nn::ReLU());
  } else if (name == "tanh") {
    seq->push_back(torch::nn::Tanh());
  } else if (name == "sigmoid") {
    seq->push_back(torch::nn::Sigmoid());
  } else if (name == "gelu") {
    seq->push_back(torch::nn::GELU());
  } else if (name == "leaky_relu") {
    seq->push_back(torch::nn::LeakyReLU());
  } else if (name == "elu") {
    seq->push_back(torch::nn::ELU());
  } else {
    throw_usage("unknown activation \"" + name + "\"");
  }
}

}  // namespace deepl::models
