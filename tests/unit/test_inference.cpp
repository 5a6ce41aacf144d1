#include <gtest/gtest.h>

#include "deepl/config/config.h"
#include "deepl/core/runtime.h"
#include "deepl/eval/inference.h"
#include "deepl/models/registry.h"
#include "deepl/models/vgg.h"

using namespace deepl;
using nlohmann::json;

namespace {

std::shared_ptr<models::NetworkImpl> build(const json& model, int64_t channels = 1) {
  const auto exp = config::resolve_experiment({{"name", "m"}, {"model", model}});
  return models::build_model(exp.json["model"], models::InputSpec{channels, 28, 28, 10});
}

// Gives batch norms real running statistics and every weight a non-trivial value.
void train_briefly(models::NetworkImpl& net) {
  torch::optim::SGD sgd(net.parameters(), 0.01);
  net.train();
  for (int i = 0; i < 3; ++i) {
    sgd.zero_grad();
    net.forward(torch::rand({16, 1, 28, 28}) * 2 - 0.5).square().mean().backward();
    sgd.step();
  }
  net.eval();
}

void expect_plan_matches_eager(models::NetworkImpl& net, bool bf16, double tolerance, int min_onednn_layers) {
  const deepl::Precision precision{bf16, false, "", false, ""};
  const torch::Tensor x = torch::rand({8, 1, 28, 28});
  torch::InferenceMode guard;
  torch::Tensor eager;
  {
    deepl::AutocastGuard autocast(bf16);
    eager = net.forward(x).to(torch::kFloat32);
  }
  const eval::InferencePlan plan(net, precision);
  const torch::Tensor fast = plan.forward(x);
  EXPECT_GE(plan.onednn_layers(), min_onednn_layers);
  EXPECT_FALSE(plan.fell_back());
  ASSERT_EQ(fast.sizes(), eager.sizes());
  EXPECT_EQ(fast.scalar_type(), torch::kFloat32);
  const double scale = eager.abs().max().item<double>() + 1e-6;
  EXPECT_LE((fast - eager).abs().max().item<double>() / scale, tolerance);
}

// 16+ channels: Debian 13's oneDNN 3.6 gets 4/8-channel fp32 convolution gradients wrong on some CPUs.
json fashion_cnn() {
  return json::parse(R"({"type": "cnn", "hidden": [32], "dropout": 0.3, "blocks": [
      {"convs": [{"out_channels": 16, "padding": 1}, {"out_channels": 16, "padding": 1}], "batch_norm": true, "dropout": 0.25},
      {"convs": [{"out_channels": 32, "padding": 1, "stride": 2}], "batch_norm": true, "pool": 2, "pool_type": "avg"}]})");
}

const deepl::Precision kFp32{};

// Whether `actual` equals `expected` up to float32 rounding (relative to expected's largest value).
bool equal_up_to_rounding(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() <= 1e-5 * (1 + expected.abs().max().item<double>());
}

// The image moved by (dy, dx) built from clamped indices: out[y][x] = in[clamp(y + dy)][clamp(x + dx)].
torch::Tensor moved_by_indexing(const torch::Tensor& x, int64_t dy, int64_t dx) {
  const auto rows = (torch::arange(x.size(2)) + dy).clamp(0, x.size(2) - 1);
  const auto columns = (torch::arange(x.size(3)) + dx).clamp(0, x.size(3) - 1);
  return x.index_select(2, rows).index_select(3, columns);
}

}  // namespace

TEST(Inference, OneDnnFloat32IsAvailableWhereLibTorchHasIt) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "LibTorch built without oneDNN";
  EXPECT_TRUE(eval::onednn_available(torch::kFloat32));
}

TEST(Inference, SeedCnnOnOneDnnMatchesEagerForward) {
  seed_everything(3);
  auto net = build(json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": 32}, {"out_channels": 32}], "pool": 2}]})"));
  train_briefly(*net);
  expect_plan_matches_eager(*net, false, 1e-5, at::hasMKLDNN() ? 3 : 0);  // two convolutions and the pooling
}

TEST(Inference, BatchNormFoldedAndDropoutDroppedMatchEager) {
  seed_everything(4);
  auto net = build(fashion_cnn());
  train_briefly(*net);
  expect_plan_matches_eager(*net, false, 1e-5, at::hasMKLDNN() ? 5 : 0);
}

TEST(Inference, Bf16PlanMatchesAutocastWithinBf16Rounding) {
  seed_everything(5);
  auto net = build(fashion_cnn());
  train_briefly(*net);
  expect_plan_matches_eager(*net, true, 0.05, eval::onednn_available(torch::kBFloat16) ? 5 : 0);
}

TEST(Inference, MlpAndVggAdapterRunTheirOwnLayers) {
  seed_everything(6);
  auto mlp = build({{"type", "mlp"}, {"hidden", {64, 32}}, {"dropout", 0.5}, {"activation", "gelu"}});
  mlp->eval();
  expect_plan_matches_eager(*mlp, false, 1e-6, 0);
  auto vgg = std::make_shared<models::VggImpl>(models::VggOptions(11).num_classes(10).hidden({16}).adapt_input_size(32));
  vgg->eval();
  expect_plan_matches_eager(*vgg, false, 1e-4, at::hasMKLDNN() ? 8 : 0);
}

TEST(Inference, ResNetBlocksRunFoldedOnOneDnnAndMatchEager) {
  seed_everything(7);
  const json resnet = {
      {"type", "resnet"}, {"stem_channels", 8}, {"blocks", {1, 1}}, {"widths", {8, 16}}, {"strides", {1, 2}}};
  auto net = build(resnet);
  train_briefly(*net);
  // the stem, then two convolutions per block and the second block's downsampling one
  expect_plan_matches_eager(*net, false, 1e-5, at::hasMKLDNN() ? 6 : 0);
  expect_plan_matches_eager(*net, true, 0.05, eval::onednn_available(torch::kBFloat16) ? 6 : 0);
  json preact = resnet;
  preact["preact"] = true;
  auto v2 = build(preact);
  train_briefly(*v2);
  expect_plan_matches_eager(*v2, false, 1e-5, at::hasMKLDNN() ? 1 : 0);  // its blocks run their own forward
}

TEST(Inference, FlipTtaAveragesTheImageAndItsMirror) {
  seed_everything(8);
  auto net = build(fashion_cnn());
  train_briefly(*net);
  const torch::Tensor x = torch::rand({6, 1, 28, 28});
  torch::InferenceMode guard;
  const torch::Tensor expected = (net->forward(x) + net->forward(x.flip({3}))) / 2;
  const torch::Tensor tta = eval::InferencePlan(*net, kFp32, {true, false}).forward(x);
  EXPECT_TRUE(equal_up_to_rounding(tta, expected));
  EXPECT_GT((tta - net->forward(x)).abs().max().item<double>(), 1e-4) << "the mirror image counts";
  const torch::Tensor symmetric = x + x.flip({3});
  const torch::Tensor difference =
      eval::InferencePlan(*net, kFp32, {true, false}).forward(symmetric) - net->forward(symmetric);
  EXPECT_LE(difference.abs().max().item<double>(), 1e-4) << "a symmetric image is its own mirror";
}

TEST(Inference, ShiftTtaAveragesTheImageMovedOnePixelEachWayAndTheirMirrors) {
  seed_everything(9);
  auto net = build(fashion_cnn());
  train_briefly(*net);
  const torch::Tensor x = torch::rand({4, 1, 28, 28});
  torch::InferenceMode guard;
  std::vector<torch::Tensor> views{x};
  for (const auto& [dy, dx] : {std::pair{-1, 0}, {1, 0}, {0, -1}, {0, 1}}) views.push_back(moved_by_indexing(x, dy, dx));
  torch::Tensor shifts = torch::zeros({4, 10}), both = torch::zeros({4, 10});
  for (const auto& view : views) {
    shifts += net->forward(view) / 5;
    both += (net->forward(view) + net->forward(view.flip({3}))) / 10;
  }
  EXPECT_TRUE(equal_up_to_rounding(eval::InferencePlan(*net, kFp32, {false, true}).forward(x), shifts));
  EXPECT_TRUE(equal_up_to_rounding(eval::InferencePlan(*net, kFp32, {true, true}).forward(x), both));
  EXPECT_FALSE(equal_up_to_rounding(shifts, net->forward(x))) << "the shifted images count";
  EXPECT_EQ((eval::TestTimeAugmentation{true, true}.views()), 10);
  const torch::Tensor flat = torch::full({2, 1, 28, 28}, 0.3);
  EXPECT_TRUE(equal_up_to_rounding(eval::InferencePlan(*net, kFp32, {false, true}).forward(flat), net->forward(flat)))
      << "a uniform image moved with its edges repeated is itself";
}
