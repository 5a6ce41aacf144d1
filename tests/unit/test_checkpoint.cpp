#include <gtest/gtest.h>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/models/zoo.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/optim.h"
#include "../plan_util.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {
std::shared_ptr<models::MlpImpl> mlp(std::vector<int64_t> hidden) {
  return std::make_shared<models::MlpImpl>(models::MlpOptions(784, 10).hidden(hidden));
}

void take_steps(models::NetworkImpl& model, torch::optim::Optimizer& opt) {
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    model.forward(torch::randn({4, 1, 28, 28})).pow(2).mean().backward();
    opt.step();
  }
}
}  // namespace

class CheckpointRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(CheckpointRoundTrip, WeightsOptimizerStateAndLrSurvive) {
  TempDir dir;
  torch::manual_seed(0);
  auto model = mlp({16});
  json section = {{"type", GetParam()}, {"lr", 0.01}, {"weight_decay", 0.0}, {"momentum", 0.9},
                  {"nesterov", false}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}};
  auto opt = train::make_optimizer(deepl::testing::optimizer_options(section), model->parameters());
  take_steps(*model, *opt);
  train::set_learning_rate(*opt, 0.00123);
  train::save_checkpoint(dir / "c.pt", *model, opt.get(), {{"epoch", 3}});

  torch::manual_seed(1);
  auto other = mlp({16});
  auto other_opt = train::make_optimizer(deepl::testing::optimizer_options(section), other->parameters());
  const auto ckpt = train::read_checkpoint(dir / "c.pt");
  EXPECT_EQ(ckpt.meta["epoch"], 3);
  train::load_model_state(*other, ckpt.model, "c.pt");
  train::load_optimizer_state(*other_opt, ckpt.optimizer, "c.pt");
  EXPECT_DOUBLE_EQ(train::learning_rate(*other_opt), 0.00123);
  // Same state => the next step gives identical weights.
  torch::manual_seed(5);
  take_steps(*model, *opt);
  torch::manual_seed(5);
  take_steps(*other, *other_opt);
  for (const auto& [name, t] : train::model_state_dict(*model)) {
    EXPECT_TRUE(torch::equal(t, train::model_state_dict(*other).at(name))) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, CheckpointRoundTrip, ::testing::Values("sgd", "adam", "adamw"));

TEST(Checkpoint, MismatchedArchitectureListsEveryProblem) {
  TempDir dir;
  auto model = mlp({16});
  train::save_checkpoint(dir / "c.pt", *model, nullptr, json::object());
  auto other = mlp({32, 8});
  const auto ckpt = train::read_checkpoint(dir / "c.pt");
  const std::string msg = error_message([&] { train::load_model_state(*other, ckpt.model, "c.pt"); });
  EXPECT_NE(msg.find("1.weight has shape [16, 784] in the file, [32, 784] in the model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing 5.weight"), std::string::npos) << msg;
}

TEST(Checkpoint, TruncatedAndForeignFilesAreClearErrors) {
  TempDir dir;
  auto model = mlp({16});
  train::save_checkpoint(dir / "c.pt", *model, nullptr, json::object());
  const std::string bytes = read_file(dir / "c.pt");
  write_file_atomic(dir / "truncated.pt", bytes.substr(0, bytes.size() / 2));
  write_file_atomic(dir / "text.pt", "hello, not a checkpoint");
  for (const auto& file_and_message : {std::pair{"truncated.pt", "truncated zip archive"}, {"text.pt", "not a zip archive"}}) {
    const std::string name = file_and_message.first;
    const std::string msg = error_message([&] { train::read_checkpoint(dir / name); });
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find(file_and_message.second), std::string::npos) << msg;
  }
  // A valid pickle that is not a deepl checkpoint.
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("weight", torch::zeros({2}));
  const auto foreign = torch::pickle_save(d);
  write_file_atomic(dir / "foreign.pt", std::string(foreign.begin(), foreign.end()));
  EXPECT_NE(error_message([&] { train::read_checkpoint(dir / "foreign.pt"); }).find("not a deepl checkpoint"),
            std::string::npos);
}
