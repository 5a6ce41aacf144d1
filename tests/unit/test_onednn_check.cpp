#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deepl/config/config.h"
#include "deepl/models/network.h"
#include "deepl/models/registry.h"
#include "deepl/train/onednn_check.h"
#include "deepl/core/precision.h"

using namespace deepl;

namespace {

// A small residual net, built from seed 0, so two builds hold the same weights. Not the 4- and
// 8-channel convolutions Debian 13's oneDNN 3.6 was measured getting wrong on an AVX512_BF16 EPYC:
// there they can corrupt the heap and crash the test process, check or no check.
std::shared_ptr<models::NetworkImpl> small_resnet() {
  torch::manual_seed(0);
  const auto exp = config::resolve_experiment({{"name", "m"},
                                               {"model",
                                                {{"type", "resnet"},
                                                 {"stem_channels", 16},
                                                 {"blocks", {1, 1}},
                                                 {"widths", {16, 32}},
                                                 {"strides", {1, 2}}}}});
  return models::build_model(exp.json["model"], models::InputSpec{});
}

torch::Tensor pattern(at::IntArrayRef shape) {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return torch::cos(torch::arange(n, torch::kFloat64) * 0.413).reshape(shape);
}

// Gradients of sum(logits * pattern) for a batch of four patterned 28x28 images.
std::vector<torch::Tensor> gradients(models::NetworkImpl& net, torch::Dtype dtype, const deepl::Precision& precision) {
  net.zero_grad();
  const torch::Tensor images = precision.prepare(pattern({4, 1, 28, 28}).to(dtype));
  const torch::Tensor logits = net.forward(images);
  (logits * pattern(logits.sizes()).to(dtype)).sum().backward();
  std::vector<torch::Tensor> out;
  for (const auto& p : net.parameters()) out.push_back(p.grad().to(torch::kFloat64));
  return out;
}

class OneDnnCheck : public ::testing::Test {
 protected:
  void TearDown() override { at::globalContext().setUserEnabledMkldnn(true); }
};

}  // namespace

// Whatever the check finds (nothing on a sound LibTorch), the float32 gradients training computes
// afterwards agree with float64's, in both layouts: where oneDNN got them wrong, the check named a
// parameter and oneDNN is off.
TEST_F(OneDnnCheck, AfterItFloat32GradientsAgreeWithFloat64InBothLayouts) {
  for (const bool channels_last : {false, true}) {
    at::globalContext().setUserEnabledMkldnn(true);
    deepl::Precision precision;
    precision.channels_last = channels_last;
    auto net = small_resnet();
    if (channels_last) deepl::to_channels_last(*net);
    const train::GradientCheck check = train::check_gradients(*net, channels_last, 1, {{28, 28}, {14, 14}});
    const std::string wrong = check.describe();
    EXPECT_TRUE(net->named_parameters().contains(check.parameter)) << wrong;
    if (!check.ok()) {
      EXPECT_NE(wrong.find("'s gradient off by"), std::string::npos) << wrong;
      train::set_onednn_enabled(false);
      EXPECT_FALSE(train::onednn_enabled());
    }
    auto reference = small_resnet();
    reference->to(torch::kFloat64);
    const auto got = gradients(*net, torch::kFloat32, precision);
    const auto want = gradients(*reference, torch::kFloat64, deepl::Precision{});
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const double scale = want[i].abs().max().item<double>() + 1e-12;
      EXPECT_LT((got[i] - want[i]).abs().max().item<double>() / scale, 1e-3)
          << "parameter " << i << (channels_last ? ", channels-last" : ", NCHW") << "; check said: " << wrong;
    }
  }
}

// The check leaves the model as it was (weights, batch-norm statistics, gradients, layout, training
// mode) and draws nothing from the random generator, so a run's numbers do not depend on it.
TEST_F(OneDnnCheck, LeavesTheModelAndTheRandomGeneratorAlone) {
  for (const bool channels_last : {false, true}) {
    auto net = small_resnet();
    deepl::Precision precision;
    precision.channels_last = channels_last;
    if (channels_last) deepl::to_channels_last(*net);
    const auto before = gradients(*net, torch::kFloat32, precision);
    std::vector<torch::Tensor> weights, buffers;
    for (const auto& p : net->parameters()) weights.push_back(p.detach().clone());
    for (const auto& b : net->buffers()) buffers.push_back(b.detach().clone());
    torch::manual_seed(7);
    (void)train::check_gradients(*net, channels_last, 1, {{28, 28}});
    const torch::Tensor drawn = torch::rand({4});
    torch::manual_seed(7);
    EXPECT_TRUE(torch::equal(drawn, torch::rand({4})));
    EXPECT_TRUE(net->is_training());
    const auto params = net->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(torch::equal(params[i], weights[i])) << i;
      EXPECT_EQ(params[i].strides(), weights[i].strides()) << i;
      EXPECT_TRUE(torch::equal(params[i].grad().to(torch::kFloat64), before[i])) << i;
    }
    const auto bufs = net->buffers();
    for (size_t i = 0; i < bufs.size(); ++i) {
      EXPECT_TRUE(torch::equal(bufs[i], buffers[i])) << i;
      EXPECT_EQ(bufs[i].dtype(), buffers[i].dtype()) << i;
    }
  }
}
