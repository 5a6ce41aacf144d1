// ONNX export checked by ONNX's own tools (tests/interop/check_onnx.py, Debian's python3-onnx):
// every built-in model type, with batch norm, pooling, dropout, GELU and residual additions
// inside, is accepted by onnx.checker's full check; where the machine has an ONNX runtime deepl
// did not write (onnx.reference, onnxruntime: Debian 13), it gives deepl's logits within 1e-4.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "../test_util.h"
#include "deepl/config/config.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/onnx_export.h"
#include "deepl/models/registry.h"
#include "deepl/run/reproduce.h"

using namespace deepl;
using deepl::testing::error_exit_code;
using deepl::testing::error_message;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {

const std::filesystem::path kSource = DEEPL_SOURCE_DIR;

struct Case {
  std::string name;
  json model;
  models::InputSpec spec;
};

std::shared_ptr<models::NetworkImpl> build(const json& model, const models::InputSpec& spec) {
  const auto exp = config::resolve_experiment({{"name", "m"}, {"model", model}});
  return models::build_model(exp.json["model"], spec);
}

// Running statistics and affine parameters away from 1 and 0, so an exported batch norm that
// ignored any of them would change the logits.
void vary_batch_norms(models::NetworkImpl& net) {
  torch::NoGradGuard no_grad;
  for (const auto& m : net.modules()) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
    }
  }
}

std::string check_onnx(const std::filesystem::path& model, const std::filesystem::path& expected, int* code) {
  const std::string cmd = "/usr/bin/python3 '" + (kSource / "tests/interop/check_onnx.py").string() + "' '" +
                          model.string() + "' '" + expected.string() + "' 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = ::pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Exports `net`, and writes what deepl computes for 5 random pictures: the loader's
// normalisation, then the network in eval mode.
void export_with_expected_logits(models::NetworkImpl& net, const models::InputSpec& spec,
                                 const std::filesystem::path& stem) {
  models::OnnxExportOptions o;
  o.input.shape = {spec.channels, spec.height, spec.width};
  o.input.mean = std::vector<double>(static_cast<size_t>(spec.channels), 0.3);
  o.input.std = std::vector<double>(static_cast<size_t>(spec.channels), 0.25);
  o.metadata = {{"class_names", "[]"}};
  write_file_atomic(stem.string() + ".onnx", io::onnx::serialize(models::to_onnx(net, o)));
  const torch::Tensor pixels = torch::randint(0, 256, {5, spec.channels, spec.height, spec.width}).to(torch::kFloat32);
  net.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = net.forward(pixels * static_cast<float>(1.0 / (255.0 * 0.25)) + static_cast<float>(-0.3 / 0.25));
  io::write_state_dict(stem.string() + ".pth", {{"input", pixels}, {"logits", logits}});
}

// Builds `model` for `spec` (seed 0, batch norms varied), exports it to stem.onnx with the logits
// expected in stem.pth, and expects check_onnx.py to accept it.
void expect_exported_and_checked(const json& model, const models::InputSpec& spec, const std::filesystem::path& stem) {
  torch::manual_seed(0);
  auto net = build(model, spec);
  vary_batch_norms(*net);
  export_with_expected_logits(*net, spec, stem);
  int code = 0;
  const std::string out = check_onnx(stem.string() + ".onnx", stem.string() + ".pth", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("checker (full_check) accepts it"), std::string::npos) << out;
  std::printf("%s", out.c_str());
}

TEST(OnnxExport, EveryModelTypeIsAcceptedByOnnxsCheckerAndGivesDeeplsLogits) {
  const std::vector<Case> cases = {
      {"linear", {{"type", "linear"}}, {1, 28, 28, 10}},
      {"logistic", {{"type", "logistic"}}, {1, 8, 8, 2}},
      {"mlp_gelu_dropout", {{"type", "mlp"}, {"hidden", {32, 16}}, {"activation", "gelu"}, {"dropout", 0.3}}, {3, 12, 10, 5}},
      {"cnn_notebook", json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": 8}, {"out_channels": 8}],
                                       "pool": 2}]})"),
       {1, 28, 28, 10}},
      {"cnn_batch_norm_avg_pool",
       json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": 8, "padding": 1}], "batch_norm": true,
                     "pool": 2, "pool_type": "avg", "activation": "leaky_relu", "dropout": 0.2}], "hidden": [16],
                     "dropout": 0.1})"),
       {3, 16, 16, 4}},
      {"resnet", {{"type", "resnet"}}, {3, 32, 32, 10}},
      {"resnet_preact_stem_pool", {{"type", "resnet"}, {"preact", true}, {"stem_pool", true}, {"stem_stride", 2}},
       {1, 64, 48, 7}},
      {"vgg11_bn", {{"type", "vgg"}, {"depth", 11}, {"batch_norm", true}, {"hidden", {16, 16}}}, {3, 32, 32, 10}},
      {"vgg11_adapter", {{"type", "vgg"}, {"depth", 11}, {"input_size", 32}, {"hidden", {16}}}, {1, 28, 28, 10}},
      {"cnn_colour_18x16",
       json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": 8, "padding": 1}], "pool": 2}]})"),
       {3, 16, 18, 3}},
  };
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_exported_and_checked(c.model, c.spec, dir / c.name);
  }
}

TEST(OnnxExport, ATableRegressionStandardisesItsFeaturesAndGivesItsValueInTheTargetsUnits) {
  torch::manual_seed(0);
  const models::InputSpec spec{1, 1, 6, 1};
  auto net = build({{"type", "mlp"}, {"hidden", {16}}}, spec);
  models::OnnxExportOptions o;
  o.input.table = true;
  o.input.shape = {6};
  o.input.mean = {1, 2, 3, 4, 5, 6};
  o.input.std = {0.5, 1, 2, 4, 8, 16};
  o.task = models::Task::kRegression;
  o.target_mean = 15.0, o.target_std = 7.5;
  TempDir dir;
  write_file_atomic(dir / "table.onnx", io::onnx::serialize(models::to_onnx(*net, o)));
  const torch::Tensor rows = torch::randn({5, 6}) * 4 + 3;
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor standardised = (rows - torch::tensor({1.0F, 2.0F, 3.0F, 4.0F, 5.0F, 6.0F})) /
                                     torch::tensor({0.5F, 1.0F, 2.0F, 4.0F, 8.0F, 16.0F});
  const torch::Tensor values = net->forward(standardised) * 7.5F + 15.0F;
  io::write_state_dict(dir / "table.pth", {{"input", rows}, {"logits", values}});
  int code = 0;
  const std::string out = check_onnx(dir / "table.onnx", dir / "table.pth", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("checker (full_check) accepts it"), std::string::npos) << out;
  std::printf("%s", out.c_str());
}

// The configs deepl ships (experiments/*.json), each model built for its data set's 28x28 pictures:
// fashion_best's ResNet-10, and fashion_vgg16's VGG-16 with its gray-to-ImageNet input adapter.
TEST(OnnxExport, EveryShippedExperimentsModelIsExported) {
  TempDir dir;
  const auto configs = run::shipped_experiments(kSource / "experiments");
  ASSERT_GE(configs.size(), 8u);
  for (const auto& path : configs) {
    SCOPED_TRACE(path.string());
    json model = config::load_experiment(path).json["model"];
    if (model.contains("pretrained")) model["pretrained"] = "";  // weights not downloadable here; same graph
    expect_exported_and_checked(model, {1, 28, 28, 10}, dir / path.stem().string());
  }
}

// A network of the user's own, built in C++, with a layer deepl has no translation for.
class WithSoftplusImpl : public models::NetworkImpl {
 public:
  WithSoftplusImpl() {
    add_stage("head", torch::nn::Sequential(torch::nn::Flatten(), torch::nn::Linear(16, 4), torch::nn::Softplus()));
  }
};

TEST(OnnxExport, ALayerWithoutATranslationIsRefusedByName) {
  WithSoftplusImpl net;
  models::OnnxExportOptions o;
  o.input.shape = {1, 4, 4};
  EXPECT_NE(error_message([&] { models::to_onnx(net, o); }).find("onnx export: layer head.2: torch::nn::Softplus"),
            std::string::npos);
  EXPECT_EQ(error_exit_code([&] { models::to_onnx(net, o); }), 2);
  EXPECT_TRUE(net.is_training());  // the mode is restored after a refusal
}

}  // namespace
