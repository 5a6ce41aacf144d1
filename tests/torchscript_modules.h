#pragma once
// TorchScript modules made in C++ the way torch.jit.script saves a Python nn.Module (submodules
// with parameters, a buffer, a `training` attribute on each, TorchScript source for forward), so
// the tests of model.type "torchscript" run without Python.
#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <string>

namespace deepl::testing {

inline torch::jit::Module scripted_linear(const std::string& name, int64_t in, int64_t out) {
  torch::jit::Module m(name);
  m.register_attribute("training", c10::BoolType::get(), true);
  // Parameters as Python saves them: leaves that require gradients.
  m.register_parameter("weight", (torch::randn({out, in}) / std::sqrt(static_cast<double>(in))).requires_grad_(), false);
  m.register_parameter("bias", torch::zeros({out}).requires_grad_(), false);
  m.define(R"(
def forward(self, x):
    return torch.matmul(x, self.weight.t()) + self.bias
)");
  return m;
}

/// A two-branch classifier on flattened inputs: a linear branch plus a hidden ReLU branch with
/// dropout (active only in training mode), summed; "branch" also holds a buffer counting its
/// training calls, as batch norm's num_batches_tracked does.
inline torch::jit::Module two_branch_module(int64_t features, int64_t classes, int64_t hidden = 32,
                                            double dropout = 0.5) {
  torch::manual_seed(0);
  torch::jit::Module net("TwoBranch");
  net.register_attribute("training", c10::BoolType::get(), true);
  net.register_module("direct", scripted_linear("Direct", features, classes));
  torch::jit::Module branch("Branch");
  branch.register_attribute("training", c10::BoolType::get(), true);
  branch.register_module("hidden", scripted_linear("Hidden", features, hidden));
  branch.register_module("out", scripted_linear("Out", hidden, classes));
  branch.register_buffer("calls", torch::zeros({1}, torch::kInt64));
  branch.define(R"(
def forward(self, x):
    if self.training:
        self.calls.add_(1)
    h = torch.dropout(torch.relu(self.hidden.forward(x)), )" + std::to_string(dropout) + R"(, self.training)
    return self.out.forward(h)
)");
  net.register_module("branch", branch);
  net.define(R"(
def forward(self, x):
    x = torch.flatten(x, 1)
    return self.direct.forward(x) + self.branch.forward(x)
)");
  return net;
}

/// Saves `module` to `path` and returns the path.
inline std::filesystem::path save_module(const torch::jit::Module& module, const std::filesystem::path& path) {
  module.save(path.string());
  return path;
}

}  // namespace deepl::testing
