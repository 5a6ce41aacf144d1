#include <gtest/gtest.h>

#include <algorithm>

#include "../test_util.h"
#include "deepl/config/config.h"
#include "deepl/models/registry.h"
#include "deepl/models/resnet.h"
#include "deepl/models/summary.h"
#include "deepl/models/zoo.h"
#include "deepl/train/checkpoint.h"
#include "deepl/core/precision.h"

using namespace deepl;
using nlohmann::json;

namespace {
std::shared_ptr<models::NetworkImpl> build(const json& model) {
  const auto exp = config::resolve_experiment({{"name", "m"}, {"model", model}});
  return models::build_model(exp.json["model"], models::InputSpec{});
}

std::vector<std::string> names_and_shapes(models::NetworkImpl& net) {
  std::vector<std::string> out;
  for (const auto& [name, t] : train::model_state_dict(net)) {
    out.push_back(name + ":" + c10::str(t.sizes()));
  }
  return out;
}

json seed_cnn() {
  return json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": 32}, {"out_channels": 32}], "pool": 2}]})");
}
}  // namespace

// A one-input-channel conv weight counts as channels-last contiguous with NCHW strides; unless it
// gets channels-last strides, oneDNN runs that layer in NCHW and the whole network converts layouts.
TEST(Models, ChannelsLastReachesEveryLayerIncludingOneInputChannel) {
  auto net = build(seed_cnn());
  deepl::to_channels_last(*net);
  for (const auto& p : net->named_parameters()) {
    if (p.value().dim() == 4) {
      EXPECT_EQ(p.value().suggest_memory_format(), at::MemoryFormat::ChannelsLast) << p.key();
    }
  }
  torch::NoGradGuard no_grad;
  torch::nn::Sequential features = net->stages().front().layers;
  auto* conv1 = features[0]->as<torch::nn::Conv2d>();
  ASSERT_NE(conv1, nullptr);
  const torch::Tensor first = conv1->forward(deepl::Precision{false, true, "", false, ""}.prepare(torch::rand({4, 1, 28, 28})));
  EXPECT_EQ(first.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
}

TEST(Models, MlpMatchesPytorchSequentialNames) {
  auto net = build({{"type", "mlp"}, {"hidden", {512, 256}}, {"dropout", 0.2}});
  EXPECT_EQ(names_and_shapes(*net),
            (std::vector<std::string>{"1.bias:[512]", "1.weight:[512, 784]", "4.bias:[256]", "4.weight:[256, 512]",
                                      "7.bias:[10]", "7.weight:[10, 256]"}));
  EXPECT_EQ(net->forward(torch::zeros({5, 1, 28, 28})).sizes(), (std::vector<int64_t>{5, 10}));
}

TEST(Models, SeedCnnIsExactlyTheNotebooks) {
  auto net = build(seed_cnn());
  EXPECT_EQ(names_and_shapes(*net),
            (std::vector<std::string>{"classifier.1.bias:[10]", "classifier.1.weight:[10, 4608]", "features.0.bias:[32]",
                                      "features.0.weight:[32, 1, 3, 3]", "features.2.bias:[32]",
                                      "features.2.weight:[32, 32, 3, 3]"}));
  const auto s = models::summarize(*net, {1, 28, 28});
  EXPECT_EQ(s.parameters, 32 * 9 + 32 + 32 * 32 * 9 + 32 + 4608 * 10 + 10);
  // conv1: 2*1*9*32*26*26, conv2: 2*32*9*32*24*24, dense: 2*4608*10, plus activations and pooling.
  const int64_t conv_and_dense = 2 * 9 * 32 * 26 * 26 + 2 * 32 * 9 * 32 * 24 * 24 + 2 * 4608 * 10;
  EXPECT_GE(s.flops, conv_and_dense);
  EXPECT_LT(s.flops, conv_and_dense + 100000);
  EXPECT_EQ(s.layers.back().output_shape, (std::vector<int64_t>{10}));
}

TEST(Models, FashionCnnWithBatchNormAndDropout) {
  auto net = build(json::parse(R"({"type": "cnn", "hidden": [128], "dropout": 0.5, "blocks": [
      {"convs": [{"out_channels": 32, "padding": 1}, {"out_channels": 32, "padding": 1}], "batch_norm": true, "dropout": 0.25},
      {"convs": [{"out_channels": 64, "padding": 1}, {"out_channels": 64, "padding": 1}], "batch_norm": true, "dropout": 0.25}]})"));
  const auto state = train::model_state_dict(*net);
  EXPECT_TRUE(state.count("features.1.running_mean"));
  EXPECT_EQ(state.at("classifier.2.weight").sizes(), (std::vector<int64_t>{128, 64 * 7 * 7}));
  EXPECT_EQ(net->forward(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(Models, LogisticHasOneOutput) {
  const auto entry = models::find_model("logistic");
  EXPECT_EQ(entry.task, models::Task::kBinary);
  auto net = build({{"type", "logistic"}});
  EXPECT_EQ(net->forward(torch::zeros({3, 1, 28, 28})).sizes(), (std::vector<int64_t>{3, 1}));
}

TEST(Models, FeatureMapThatVanishesIsAConfigError) {
  const json block = json::parse(R"({"convs": [{"out_channels": 8, "kernel_size": 9}], "pool": 4})");
  const std::string msg = deepl::testing::error_message([&] { build({{"type", "cnn"}, {"blocks", {block, block}}}); });
  EXPECT_NE(msg.find("/model/blocks/1: the feature map shrinks"), std::string::npos) << msg;
}

TEST(Models, RegistryAcceptsNewTypes) {
  models::ModelEntry e = models::find_model("linear");
  e.type = "my_linear";
  models::register_model(e);
  EXPECT_NO_THROW(build({{"type", "my_linear"}}));
}

TEST(Models, ResNetHasTorchvisionNames) {
  auto net = build({{"type", "resnet"}, {"stem_channels", 4}, {"blocks", {1, 2}}, {"widths", {4, 8}},
                    {"strides", {1, 2}}, {"dropout", 0.2}});
  const auto state = train::model_state_dict(*net);
  const auto names = names_and_shapes(*net);
  for (const std::string name :
       {"conv1.weight:[4, 1, 3, 3]", "bn1.running_var:[4]", "layer1.0.conv1.weight:[4, 4, 3, 3]",
        "layer1.0.bn2.bias:[4]", "layer2.0.conv1.weight:[8, 4, 3, 3]", "layer2.0.downsample.0.weight:[8, 4, 1, 1]",
        "layer2.0.downsample.1.running_mean:[8]", "layer2.1.conv2.weight:[8, 8, 3, 3]", "fc.weight:[10, 8]"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  EXPECT_FALSE(state.count("layer1.0.downsample.0.weight")) << "same shape: identity shortcut";
  EXPECT_FALSE(state.count("conv1.bias")) << "convolutions before batch norm have no bias";
  const auto s = models::summarize(*net, {1, 28, 28});
  std::vector<std::string> layers;
  for (const auto& l : s.layers) layers.push_back(l.name);
  EXPECT_EQ(layers, (std::vector<std::string>{"conv1", "bn1", "relu", "layer1.0", "layer2.0", "layer2.1", "avgpool",
                                              "flatten", "dropout", "fc"}));
  EXPECT_EQ(s.layers[4].output_shape, (std::vector<int64_t>{8, 14, 14}));
  // layer2.0: 3x3 convolutions 4->8 and 8->8 and the 1x1 shortcut 4->8, each 8x14x14 outputs.
  const int64_t convolutions = 2 * 9 * 4 * 8 * 14 * 14 + 2 * 9 * 8 * 8 * 14 * 14 + 2 * 4 * 8 * 14 * 14;
  EXPECT_GE(s.layers[4].flops, convolutions);
  EXPECT_LT(s.layers[4].flops, convolutions + 10 * 8 * 14 * 14);
  EXPECT_EQ(net->forward(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(Models, PreActResNetNormsBeforeConvolutionsAndAFinalNorm) {
  auto net = build({{"type", "resnet"}, {"stem_channels", 4}, {"blocks", {1, 1}}, {"widths", {4, 8}},
                    {"strides", {1, 2}}, {"preact", true}});
  const auto state = train::model_state_dict(*net);
  EXPECT_FALSE(state.count("bn1.weight")) << "pre-activation stem: conv1 alone";
  EXPECT_EQ(state.at("layer2.0.bn1.weight").sizes(), (std::vector<int64_t>{4})) << "bn1 normalises the block's input";
  EXPECT_EQ(state.at("layer2.0.bn2.weight").sizes(), (std::vector<int64_t>{8}));
  EXPECT_FALSE(state.count("layer2.0.downsample.1.weight")) << "pre-activation shortcut: a convolution alone";
  EXPECT_EQ(state.at("norm.weight").sizes(), (std::vector<int64_t>{8}));
  EXPECT_EQ(net->forward(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(Models, ZeroInitResidualStartsEachBlockAsItsShortcut) {
  for (const bool preact : {false, true}) {
    SCOPED_TRACE(preact ? "pre-activation" : "post-activation");
    auto net = build({{"type", "resnet"}, {"stem_channels", 4}, {"blocks", {2}}, {"widths", {4}}, {"strides", {1}},
                      {"preact", preact}, {"zero_init_residual", true}});
    net->eval();
    const auto state = train::model_state_dict(*net);
    const std::string zeroed = preact ? "layer1.1.conv2.weight" : "layer1.1.bn2.weight";
    const std::string kept = preact ? "layer1.1.bn2.weight" : "layer1.1.conv2.weight";
    EXPECT_EQ(state.at(zeroed).abs().max().item<float>(), 0.0F);
    EXPECT_GT(state.at(kept).abs().max().item<float>(), 0.0F);
    auto block = net->named_modules()["layer1.1"]->as<models::BasicBlockImpl>();
    ASSERT_NE(block, nullptr);
    const torch::Tensor x = torch::randn({2, 4, 8, 8});
    // Post-activation: relu(0 + shortcut); pre-activation: 0 + shortcut.
    EXPECT_TRUE(torch::allclose(block->forward(x), preact ? x : torch::relu(x)));
  }
  auto plain = build({{"type", "resnet"}, {"stem_channels", 4}, {"blocks", {1}}, {"widths", {4}}, {"strides", {1}}});
  EXPECT_GT(train::model_state_dict(*plain).at("layer1.0.bn2.weight").min().item<float>(), 0.0F) << "off by default";
}

TEST(Models, ResNetStagesMustAgree) {
  const std::string msg = deepl::testing::error_message([] { build({{"type", "resnet"}, {"blocks", {2, 2}}}); });
  EXPECT_NE(msg.find("one width and one stride per stage: 2 blocks, 3 widths, 3 strides"), std::string::npos) << msg;
}
