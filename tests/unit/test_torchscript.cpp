// model.type "torchscript": a saved TorchScript module as a deepl network (names, shared tensors,
// train/eval mode, gradients) and its one-line errors before training.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../test_util.h"
#include "../torchscript_modules.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/models/registry.h"
#include "deepl/models/torchscript.h"

namespace deepl::testing {
namespace {

using nlohmann::json;

std::map<std::string, torch::Tensor> by_name(const torch::OrderedDict<std::string, torch::Tensor>& tensors) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : tensors) out[item.key()] = item.value();
  return out;
}

TEST(TorchScript, ParametersAndBuffersKeepTheirNamesAndShareTheModulesTensors) {
  TempDir dir;
  const auto net = models::load_torchscript(save_module(two_branch_module(12, 3), dir / "net.pt"));
  const auto parameters = by_name(net->named_parameters());
  std::vector<std::string> names;
  for (const auto& [name, t] : parameters) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"branch.hidden.bias", "branch.hidden.weight", "branch.out.bias",
                                             "branch.out.weight", "direct.bias", "direct.weight"}));
  EXPECT_EQ(by_name(net->named_buffers()).count("branch.calls"), 1u);
  const torch::Tensor scripted = net->module().attr("direct").toModule().attr("bias").toTensor();
  EXPECT_EQ(scripted.data_ptr(), parameters.at("direct.bias").data_ptr()) << "one tensor, seen by both";
  net->eval();
  const torch::Tensor x = torch::randn({4, 1, 3, 4});
  const torch::Tensor before = net->forward(x);
  {
    torch::NoGradGuard no_grad;
    parameters.at("direct.bias").add_(1.0);  // as an optimizer step does
  }
  EXPECT_TRUE(torch::allclose(net->forward(x), before + 1.0));
}

TEST(TorchScript, TrainAndEvalModesReachTheScriptedSubmodulesAndGradientsFlow) {
  TempDir dir;
  const auto net = models::load_torchscript(save_module(two_branch_module(12, 3), dir / "net.pt"));
  const torch::Tensor x = torch::randn({64, 12});
  net->train();
  EXPECT_FALSE(torch::equal(net->forward(x), net->forward(x))) << "dropout is on in training mode";
  EXPECT_EQ(by_name(net->named_buffers()).at("branch.calls").item<int64_t>(), 2) << "buffers update in place";
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x))) << "and off in eval mode";
  EXPECT_EQ(by_name(net->named_buffers()).at("branch.calls").item<int64_t>(), 2);
  net->train();
  net->forward(x).square().mean().backward();
  for (const auto& p : net->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << p.key();
}

TEST(TorchScript, BuildingChecksTheFileTheForwardAndTheOutputsBeforeTraining) {
  TempDir dir;
  const auto path = save_module(two_branch_module(12, 3), dir / "net.pt");
  const auto build = [&](const json& extra, int64_t classes) {
    json section = {{"type", "torchscript"}, {"path", path.string()}, {"sha256", ""}};
    if (!extra.is_null()) section.update(extra);
    return models::build_model(section, models::InputSpec{1, 3, 4, classes});
  };
  EXPECT_NO_THROW(build({}, 3));
  EXPECT_NE(error_message([&] { build({}, 10); }).find("gives [2, 3] for inputs [2, 1, 3, 4]; deepl needs logits [N, 10]"),
            std::string::npos);
  EXPECT_EQ(error_exit_code([&] { build({}, 10); }), 2);
  EXPECT_NO_THROW(build({{"sha256", sha256_of_file(path)}}, 3));
  EXPECT_NE(error_message([&] { build({{"sha256", std::string(64, '0')}}, 3); }).find("has changed since this run began"),
            std::string::npos);

  write_file_atomic(dir / "junk.pt", "not a zip archive");
  EXPECT_NE(models::load_torchscript(path), nullptr);
  EXPECT_NE(error_message([&] { models::load_torchscript(dir / "junk.pt"); }).find("junk.pt: not a TorchScript file"),
            std::string::npos);
  EXPECT_EQ(error_exit_code([&] { models::load_torchscript(dir / "junk.pt"); }), 3);
  EXPECT_EQ(error_exit_code([&] { models::load_torchscript(dir / "missing.pt"); }), 3);

  torch::jit::Module pair("Pair");
  pair.register_attribute("training", c10::BoolType::get(), true);
  pair.register_parameter("w", torch::ones({1}), false);
  pair.define("def forward(self, x, y):\n    return x * self.w + y\n");
  const auto pair_path = save_module(pair, dir / "pair.pt");
  EXPECT_NE(error_message([&] { models::load_torchscript(pair_path); }).find("deepl calls it with one tensor"),
            std::string::npos);
  EXPECT_EQ(error_exit_code([&] { models::load_torchscript(pair_path); }), 2);

  torch::jit::Module frozen("Frozen");
  frozen.register_attribute("training", c10::BoolType::get(), true);
  frozen.define("def forward(self, x):\n    return x * 2.0\n");
  const auto frozen_path = save_module(frozen, dir / "frozen.pt");
  EXPECT_NE(error_message([&] { models::load_torchscript(frozen_path); }).find("no parameters to train"),
            std::string::npos);
  EXPECT_EQ(error_exit_code([&] { models::load_torchscript(frozen_path); }), 2);
}

}  // namespace
}  // namespace deepl::testing
