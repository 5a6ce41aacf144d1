// Checkpoints cross LibTorch lines and deepl versions: files written by the 1.13 build (Debian 12) and by the 2.6
// build (Debian 13) are committed in tests/fixtures/ and each build reads both, weights and Adam
// state, and gets the logits the writing build stored. A build writes its own fixture with
//   DEEPL_WRITE_COMPAT_FIXTURE=1 build/tests/deepl_tests --gtest_filter='Compat.*'
// tests/fixtures/run-before-plan/ is a run folder that deepl wrote before the typed experiment plan
// (commit e2dc880, LibTorch 1.13); today's deepl lists, evaluates and resumes it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <cstdlib>

#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/core/torch_compat.h"
#include "deepl/models/zoo.h"
#include "deepl/run/checkpoint_use.h"
#include "deepl/run/runs.h"
#include "deepl/run/train_session.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/optim.h"
#include "../plan_util.h"
#include "../test_util.h"

using namespace deepl;
using nlohmann::json;

namespace {

const std::filesystem::path kFixtures = std::filesystem::path(DEEPL_SOURCE_DIR) / "tests" / "fixtures";

std::shared_ptr<models::MlpImpl> fixture_model() {
  return std::make_shared<models::MlpImpl>(models::MlpOptions(784, 10).hidden({8}));
}

std::shared_ptr<torch::optim::Optimizer> adam(models::MlpImpl& model) {
  return train::make_optimizer(deepl::testing::optimizer_options({{"type", "adam"}, {"lr", 0.01}, {"weight_decay", 0.0}, {"momentum", 0.0},
                                {"nesterov", false}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}}),
                               model.parameters());
}

torch::Tensor fixture_input() { return torch::linspace(-1.0, 1.0, 3 * 784).view({3, 1, 28, 28}); }

std::vector<double> as_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous().flatten();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::string this_line() { return fmt::format("libtorch-{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR); }

}  // namespace

TEST(Compat, WriteThisBuildsFixtureWhenAsked) {
  if (std::getenv("DEEPL_WRITE_COMPAT_FIXTURE") == nullptr) GTEST_SKIP() << "set DEEPL_WRITE_COMPAT_FIXTURE=1 to write";
  torch::manual_seed(7);
  auto model = fixture_model();
  auto opt = adam(*model);
  for (int i = 0; i < 2; ++i) {
    opt->zero_grad();
    model->forward(torch::randn({4, 1, 28, 28})).pow(2).mean().backward();
    opt->step();
  }
  torch::NoGradGuard no_grad;
  const json meta = {{"written_by", libtorch_version()}, {"logits", as_vector(model->forward(fixture_input()))}};
  train::save_checkpoint(kFixtures / ("checkpoint-" + this_line() + ".pt"), *model, opt.get(), meta, false);
}

TEST(Compat, CheckpointsFromEveryLibTorchLineLoad) {
  int read = 0;
  for (const char* line : {"libtorch-1.13", "libtorch-2.6"}) {
    const auto path = kFixtures / (std::string("checkpoint-") + line + ".pt");
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    const train::Checkpoint ckpt = train::read_checkpoint(path);
    auto model = fixture_model();
    train::load_model_state(*model, ckpt.model, path.string());
    auto opt = adam(*model);
    train::load_optimizer_state(*opt, ckpt.optimizer, path.string());
    EXPECT_EQ(opt->state().size(), model->parameters().size()) << line;
    const torch::Tensor p = model->parameters().front();
    ASSERT_NE(opt->state().find(compat::optimizer_state_key(p)), opt->state().end()) << line;
    torch::NoGradGuard no_grad;
    const std::vector<double> logits = as_vector(model->forward(fixture_input()));
    const auto expected = ckpt.meta.at("logits").get<std::vector<double>>();
    ASSERT_EQ(logits.size(), expected.size());
    for (size_t i = 0; i < logits.size(); ++i) EXPECT_NEAR(logits[i], expected[i], 1e-5) << line << " logit " << i;
    ++read;
  }
  EXPECT_EQ(read, 2);
}

TEST(Compat, ARunFolderFromBeforeTheTypedPlanEvaluatesToItsOwnNumbers) {
  if (deepl::testing::real_data_root("mnist").empty()) GTEST_SKIP() << "MNIST is not fetched (bash data/fetch)";
  const auto run_dir = kFixtures / "run-before-plan";
  deepl::testing::TempDir out;
  run::EvalOptions options;
  options.out_dir = out.path();
  options.quiet = true;
  const eval::Metrics m = run::evaluate_checkpoint(run_dir / "checkpoints/best.pt", options);
  const json written = read_json_file(run_dir / "metrics.json");
  EXPECT_EQ(m.examples, written.at("examples").get<int64_t>());
  EXPECT_NEAR(m.accuracy, written.at("accuracy").get<double>(), 1e-4) << "at most one test image apart";
  EXPECT_NEAR(m.loss, written.at("loss").get<double>(), 1e-5);

  const auto rows = run::list_runs(run_dir, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].cells.at("status"), "finished");
  EXPECT_EQ(rows[0].cells.at("test_accuracy"), written.at("accuracy"));
}

TEST(Compat, ARunFromBeforeTheTypedPlanResumesFromItsLastCheckpoint) {
  if (deepl::testing::real_data_root("mnist").empty()) GTEST_SKIP() << "MNIST is not fetched (bash data/fetch)";
  const auto run_dir = kFixtures / "run-before-plan";
  deepl::testing::TempDir out;
  config::Experiment exp = config::load_experiment(run_dir / "config.json", {"train.epochs=3"});
  run::TrainOptions options;
  options.quiet = true;
  options.run_dir = out.path();
  options.resume = run_dir / "checkpoints/last.pt";
  const run::TrainResult result = run::train_experiment(exp, options);
  ASSERT_EQ(result.history.size(), 3u) << "two epochs read from the old checkpoint, one trained";
  const auto old_history = read_file(run_dir / "metrics.jsonl");
  EXPECT_NE(old_history.find(result.history[1].to_json().dump()), std::string::npos)
      << "the old run's epoch 2, as the old deepl wrote it";
  const double before = read_json_file(run_dir / "metrics.json").at("accuracy").get<double>();
  EXPECT_GT(result.test.accuracy, before - 0.02) << "a third epoch keeps what two reached";
}
