#include "deepl/models/torchscript.h"

#include <fmt/format.h>

#include <sstream>

#include "deepl/core/error.h"

namespace deepl::models {

namespace fs = std::filesystem;

namespace {

// The registered module that holds the last part of a dotted name ("branch.0.weight": children
// "branch" then "0"), made as needed; `leaf` receives the last part.
torch::nn::Module& holder_of(torch::nn::Module& root, const std::string& dotted, std::string& leaf) {
  torch::nn::Module* node = &root;
  size_t start = 0;
  for (size_t dot; (dot = dotted.find('.', start)) != std::string::npos; start = dot + 1) {
    const std::string part = dotted.substr(start, dot - start);
    auto children = node->named_children();
    if (auto* found = children.find(part)) {
      node = found->get();
    } else {
      node = node->register_module(part, std::make_shared<torch::nn::Module>(part)).get();
    }
  }
  leaf = dotted.substr(start);
  return *node;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

TorchScriptNetworkImpl::TorchScriptNetworkImpl(torch::jit::Module module) : module_(std::move(module)) {
  std::string leaf;
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
    holder_of(*this, p.name, leaf).register_parameter(leaf, p.value, p.value.requires_grad());
  }
  for (const auto& b : module_.named_buffers(/*recurse=*/true)) holder_of(*this, b.name, leaf).register_buffer(leaf, b.value);
  train(module_.is_training());
}

torch::Tensor TorchScriptNetworkImpl::forward(torch::Tensor x) {
  const c10::IValue out = module_.forward({std::move(x)});
  if (!out.isTensor()) {
    throw_usage(fmt::format("/model/path: the TorchScript forward returns a {}, not one tensor of logits", out.tagKind()));
  }
  return out.toTensor();
}

void TorchScriptNetworkImpl::train(bool on) {
  torch::nn::Module::train(on);
  module_.train(on);
}

std::shared_ptr<TorchScriptNetworkImpl> load_torchscript(const fs::path& path) {
  const std::string origin = path.string();
  if (!fs::is_regular_file(path)) throw_data(origin + ": no such TorchScript file (model.path)");
  torch::jit::Module module;
  try {
    module = torch::jit::load(origin, torch::Device(torch::kCPU));
  } catch (const std::exception& e) {
    throw_data(fmt::format("{}: not a TorchScript file that this LibTorch reads ({})", origin, first_line(e.what())));
  }
  const auto forward = module.find_method("forward");
  if (!forward) throw_usage(origin + ": the TorchScript module has no forward method");
  const auto& arguments = forward->function().getSchema().arguments();  // self first
  if (arguments.size() != 2 || arguments[1].type()->kind() != c10::TypeKind::TensorType) {
    std::ostringstream schema;
    schema << forward->function().getSchema();
    throw_usage(fmt::format("{}: forward is {}; deepl calls it with one tensor of inputs [N, C, H, W]", origin,
                            schema.str()));
  }
  if (module.parameters().size() == 0) {
    throw_usage(origin + ": the TorchScript module has no parameters to train (a frozen module, torch.jit.freeze, has "
                         "them inlined as constants: save it before freezing)");
  }
  return std::make_shared<TorchScriptNetworkImpl>(std::move(module));
}

}  // namespace deepl::models
