// Device selection ("cpu", "cuda", "cuda:N", "auto"), its errors, and checkpoints that hold CPU
// tensors whatever trained them. This machine has no GPU: what needs one is skipped, not faked.
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "../test_util.h"
#include "deepl/config/config.h"
#include "deepl/core/device.h"
#include "deepl/core/runtime.h"
#include "deepl/models/zoo.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/optim.h"
#include "../plan_util.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;
using nlohmann::json;

TEST(Device, CpuAndAutoResolve) {
  EXPECT_TRUE(resolve_device("cpu").device.is_cpu());
  const DeviceChoice automatic = resolve_device("auto");
  EXPECT_EQ(automatic.device.is_cuda(), torch::cuda::is_available());
  if (!at::hasCUDA()) {
    EXPECT_EQ(automatic.reason, "auto: LibTorch built without CUDA");
  }
  EXPECT_EQ(config::resolve_experiment({{"name", "t"}, {"model", {{"type", "mlp"}}}}).json["device"], "auto");
}

TEST(Device, MalformedNamesAreUsageErrors) {
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA", "cuda:123456"}) {
    EXPECT_EQ(error_message([&] { resolve_device(bad); }),
              fmt::format("/device: \"{}\" is not a device (cpu, cuda, cuda:N or auto)", bad));
  }
}

TEST(Device, CudaOnABuildWithoutItNamesTheBuild) {
  if (at::hasCUDA()) GTEST_SKIP() << "this LibTorch has CUDA";
  for (const char* spec : {"cuda", "cuda:1"}) {
    const std::string message = error_message([&] { resolve_device(spec); });
    EXPECT_EQ(message, fmt::format("/device: \"{}\" requested, but this LibTorch build ({}) has no CUDA support; "
                                   "use \"cpu\" or \"auto\"",
                                   spec, libtorch_version()));
  }
  const std::string config_error = error_message(
      [] { config::resolve_experiment({{"name", "t"}, {"device", "cuda"}, {"model", {{"type", "mlp"}}}}); });
  EXPECT_NE(config_error.find("/device: \"cuda\" requested"), std::string::npos) << config_error;
}

TEST(Device, CudaIndexBeyondTheVisibleDevices) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string spec = fmt::format("cuda:{}", torch::cuda::device_count());
  EXPECT_NE(error_message([&] { resolve_device(spec); }).find("CUDA device(s) are visible"), std::string::npos);
}

TEST(Device, CheckpointsHoldCpuTensors) {
  TempDir dir;
  const auto device = resolve_device("auto").device;
  auto model = std::make_shared<models::MlpImpl>(models::MlpOptions(784, 10).hidden({8}));
  model->to(device);
  EXPECT_EQ(device_of(*model), device);
  auto opt = train::make_optimizer(deepl::testing::optimizer_options({{"type", "adam"}, {"lr", 0.01}, {"weight_decay", 0.0}, {"momentum", 0.0},
                                    {"nesterov", false}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}}),
                                   model->parameters());
  opt->zero_grad();
  model->forward(torch::randn({4, 1, 28, 28}, torch::TensorOptions().device(device))).sum().backward();
  opt->step();
  train::save_checkpoint(dir / "c.pt", *model, opt.get(), {{"epoch", 1}});
  const train::Checkpoint ckpt = train::read_checkpoint(dir / "c.pt");
  ASSERT_FALSE(ckpt.model.empty());
  for (const auto& [name, t] : ckpt.model) EXPECT_TRUE(t.device().is_cpu()) << name;
  const auto state = ckpt.optimizer.toGenericDict().at("state").toGenericDict();
  ASSERT_GT(state.size(), 0u);
  for (const auto& entry : state) {
    for (const auto& field : entry.value().toGenericDict()) {
      if (field.value().isTensor()) {
        EXPECT_TRUE(field.value().toTensor().device().is_cpu()) << field.key().toStringRef();
      }
    }
  }
}

TEST(Device, EmptyModuleIsOnTheCpu) { EXPECT_TRUE(device_of(torch::nn::Module()).is_cpu()); }
