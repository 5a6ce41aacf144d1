#include <gtest/gtest.h>

#include "../test_util.h"
#include "deepl/config/config.h"
#include "deepl/core/runtime.h"
#include "deepl/models/zoo.h"
#include "deepl/train/callbacks.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/fused_adam.h"
#include "deepl/train/trainer.h"
#include "../plan_util.h"

using namespace deepl;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {

data::Dataset synthetic(int64_t n, uint64_t seed) {
  auto [x, y] = deepl::testing::synthetic_digits(n, 10, seed);
  return {"synthetic", x, y.to(torch::kInt64), std::vector<std::string>(10, "c")};
}

struct Setup {
  std::shared_ptr<models::NetworkImpl> model;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  std::shared_ptr<train::LrScheduler> scheduler;
  std::unique_ptr<train::Trainer> trainer;
};

const json kStepSchedule = {{"type", "step"}, {"step_size", 1}, {"gamma", 0.5}};

// A small dropout MLP with Adam and a schedule (by default a step one): every piece of state a
// resume must restore. `steps_per_epoch` is the loader's batch count (8 for 256 examples).
Setup make_setup(int64_t epochs, double lr = 1e-2, const json& schedule = kStepSchedule, int64_t steps_per_epoch = 8,
                 double ema_decay = 0.0) {
  configure_threads(1);
  seed_everything(11);
  Setup s;
  s.model = std::make_shared<models::MlpImpl>(models::MlpOptions(784, 10).hidden({32}).dropout({0.2}));
  s.optimizer = std::make_shared<torch::optim::Adam>(s.model->parameters(), torch::optim::AdamOptions(lr));
  s.scheduler = std::make_shared<train::LrScheduler>(deepl::testing::scheduler_options(schedule), lr, epochs, steps_per_epoch);
  train::TrainerOptions o;
  o.epochs = epochs;
  o.ema_decay = ema_decay;
  s.trainer = std::make_unique<train::Trainer>(s.model, s.optimizer, s.scheduler, o);
  return s;
}

data::BatchLoader loader(const data::Dataset& d, bool shuffle) {
  data::LoaderOptions o;
  o.batch_size = 32;
  o.shuffle = shuffle;
  o.seed = 5;
  o.normalization = {{0.2}, {0.3}};
  return data::BatchLoader(d, torch::Tensor(), o);
}

struct StopAfter : train::Callback {
  explicit StopAfter(int64_t epochs) : epochs(epochs) {}
  void on_epoch_end(train::Trainer& t, const train::EpochMetrics& m) override {
    if (m.epoch >= epochs) t.request_stop("test stop");
  }
  int64_t epochs;
};

void expect_same_tensors(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
}

void expect_same_weights(models::NetworkImpl& a, models::NetworkImpl& b) {
  expect_same_tensors(train::model_state_dict(a), train::model_state_dict(b));
}

void resume_into(Setup& s, const std::filesystem::path& path) {
  torch::manual_seed(999);  // the resumed run must not depend on the generator's state before loading
  const auto ckpt = train::read_checkpoint(path);
  train::load_model_state(*s.model, ckpt.model, path.string());
  train::load_optimizer_state(*s.optimizer, ckpt.optimizer, path.string());
  s.trainer->load_state(ckpt.meta["trainer"]);
  s.scheduler->load_state(train::scheduler_state_from_json(ckpt.meta["scheduler"], s.scheduler->steps_per_epoch()));
  if (auto* average = s.trainer->weight_average()) {
    average->load(ckpt.ema, ckpt.meta["trainer"]["ema_updates"], path.string());
  }
  train::restore_rng(ckpt.rng);
}

// Keeps a copy of the mid-epoch last.pt written at one position of the epoch.
struct CopySnapshot : train::Callback {
  CopySnapshot(std::filesystem::path dir, int64_t epoch, int64_t batch) : dir(std::move(dir)), epoch(epoch), batch(batch) {}
  void on_snapshot(train::Trainer& t) override {
    const json position = t.state()["epoch_position"];
    ++snapshots;
    if (position["epoch"] == epoch && position["batches_done"] == batch) {
      std::filesystem::copy_file(dir / "last.pt", dir / "mid.pt");
    }
  }
  std::filesystem::path dir;
  int64_t epoch, batch, snapshots = 0;
};

}  // namespace

TEST(Trainer, LossDecreasesOnASmallTask) {
  const auto d = synthetic(512, 1);
  auto train_loader = loader(d, true);
  auto s = make_setup(4);
  s.trainer->fit(train_loader, nullptr);
  const auto& h = s.trainer->history();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_LT(h.back().train_loss, 0.5 * h.front().train_loss);
  EXPECT_GT(h.back().train_accuracy, 0.9);
  EXPECT_DOUBLE_EQ(h[0].lr, 1e-2);
  EXPECT_DOUBLE_EQ(h[1].lr, 5e-3);  // the step schedule halves it each epoch
}

TEST(Trainer, SameSeedSameThreadsSameNumbers) {
  const auto d = synthetic(256, 2);
  std::vector<double> losses;
  for (int run = 0; run < 2; ++run) {
    auto l = loader(d, true);
    auto s = make_setup(2);
    s.trainer->fit(l, nullptr);
    losses.push_back(s.trainer->history().back().train_loss);
  }
  EXPECT_EQ(losses[0], losses[1]);
}

TEST(Trainer, ResumeEqualsUninterruptedRun) {
  const auto d = synthetic(256, 3);
  TempDir dir;
  // Uninterrupted: 2 epochs.
  auto full = make_setup(2);
  auto l1 = loader(d, true);
  full.trainer->fit(l1, nullptr);
  // Interrupted: stopped after epoch 1 with a checkpoint; a fresh setup resumes for the second.
  auto first = make_setup(2);
  first.trainer->add_callback(std::make_shared<StopAfter>(1));
  first.trainer->add_callback(
      std::make_shared<train::Checkpointer>(dir.path(), "train_loss", train::CheckpointSchedule{}, [] { return json::object(); }));
  auto l2 = loader(d, true);
  first.trainer->fit(l2, nullptr);
  EXPECT_EQ(first.trainer->completed_epochs(), 1);
  ASSERT_TRUE(std::filesystem::exists(dir / "last.pt"));

  auto resumed = make_setup(2);
  resume_into(resumed, dir / "last.pt");
  EXPECT_EQ(resumed.trainer->completed_epochs(), 1);
  auto l4 = loader(d, true);
  resumed.trainer->fit(l4, nullptr);
  EXPECT_EQ(resumed.trainer->completed_epochs(), 2);
  expect_same_weights(*full.model, *resumed.model);
  EXPECT_EQ(full.trainer->history().back().train_loss, resumed.trainer->history().back().train_loss);
  EXPECT_DOUBLE_EQ(train::learning_rate(*resumed.optimizer), train::learning_rate(*full.optimizer));
}

namespace {

void expect_mid_epoch_resume_is_exact(const json& schedule, double ema_decay) {
  const auto d = synthetic(256, 3);  // 8 batches of 32 per epoch
  TempDir dir;
  auto full = make_setup(2, 1e-2, schedule, 8, ema_decay);
  auto l1 = loader(d, true);
  full.trainer->fit(l1, nullptr);

  auto stepped = make_setup(2, 1e-2, schedule, 8, ema_decay);

  train::CheckpointSchedule every_3_steps;
  every_3_steps.every_steps = 3;
  stepped.trainer->add_callback(
      std::make_shared<train::Checkpointer>(dir.path(), "train_loss", every_3_steps, [] { return json::object(); }));
  const auto copy = std::make_shared<CopySnapshot>(dir.path(), 2, 4);  // global step 12
  stepped.trainer->add_callback(copy);
  auto l2 = loader(d, true);
  stepped.trainer->fit(l2, nullptr);
  EXPECT_EQ(copy->snapshots, 5) << "steps 3, 6, 9, 12, 15 (an epoch's last step is its end-of-epoch checkpoint)";
  expect_same_weights(*full.model, *stepped.model);
  ASSERT_TRUE(std::filesystem::exists(dir / "mid.pt"));

  auto resumed = make_setup(2, 1e-2, schedule, 8, ema_decay);
  resume_into(resumed, dir / "mid.pt");
  EXPECT_EQ(resumed.trainer->completed_epochs(), 1);
  auto l3 = loader(d, true);
  resumed.trainer->fit(l3, nullptr);
  expect_same_weights(*full.model, *resumed.model);
  EXPECT_EQ(full.trainer->history().back().train_loss, resumed.trainer->history().back().train_loss);
  if (ema_decay > 0) {
    expect_same_tensors(full.trainer->weight_average()->weights(), resumed.trainer->weight_average()->weights());
  }
}

}  // namespace

TEST(Trainer, CheckpointsEveryNStepsChangeNothingAndResumeMidEpochExactly) {
  // The step schedule changes the lr between epochs; onecycle after every batch, here with a
  // weight average that must resume exactly too.
  for (const auto& [schedule, ema] : {std::pair<json, double>{kStepSchedule, 0.0}, {json{{"type", "onecycle"}}, 0.9}}) {
    SCOPED_TRACE(schedule.dump());
    expect_mid_epoch_resume_is_exact(schedule, ema);
  }
}

TEST(Trainer, PerStepScheduleChangesTheLearningRateEveryBatch) {
  const auto d = synthetic(256, 3);
  auto s = make_setup(2, 1e-2, {{"type", "cosine"}, {"interval", "step"}, {"warmup_epochs", 0.5}});
  struct Lrs : train::Callback {
    void on_batch_end(train::Trainer& t, const train::BatchProgress&) override {
      seen.push_back(train::learning_rate(t.optimizer()));
    }
    std::vector<double> seen;
  };
  auto lrs = std::make_shared<Lrs>();
  s.trainer->add_callback(lrs);
  auto l = loader(d, true);
  s.trainer->fit(l, nullptr);
  ASSERT_EQ(lrs->seen.size(), 2u);  // progress is read at each epoch's last batch
  // After epoch 1 (8 of 16 steps, 4 of them warm-up): cosine at t = 4/12; after epoch 2: min_lr 0.
  EXPECT_NEAR(lrs->seen[0], 0.5 * 1e-2 * (1 + std::cos(M_PI * 4.0 / 12.0)), 1e-12);
  EXPECT_NEAR(lrs->seen[1], 0.0, 1e-12);
}

TEST(Trainer, ScheduleResumesFromOlderCheckpointsState) {
  // A scheduler state written before per-step schedules has no steps_done / plateau_lr.
  auto s = make_setup(4, 1e-2, {{"type", "plateau"}, {"patience", 0}, {"factor", 0.5}});
  s.scheduler->load_state(train::scheduler_state_from_json(
      {{"epochs_done", 2}, {"lr", 0.0025}, {"best", 0.9}, {"has_best", true}, {"bad_epochs", 0}}, 8));
  EXPECT_DOUBLE_EQ(s.scheduler->step({{"val_loss", 0.1}}), 0.00125) << "decays from the saved lr";
  EXPECT_EQ(s.scheduler->state().steps_done, 16) << "2 whole epochs of 8 steps";
}

TEST(Trainer, EarlyStoppingStopsAfterPatience) {
  const auto d = synthetic(128, 4);
  auto l = loader(d, false);
  auto s = make_setup(30, 1e-9);  // a learning rate this small cannot improve anything
  s.trainer->add_callback(std::make_shared<train::EarlyStopping>("train_accuracy", 2, 0.01));
  s.trainer->fit(l, nullptr);
  EXPECT_EQ(s.trainer->completed_epochs(), 3);
  EXPECT_NE(s.trainer->stop_reason().find("early stopping"), std::string::npos);
}

TEST(Trainer, NonFiniteLossStopsWithAClearMessage) {
  const auto d = synthetic(128, 5);
  auto l = loader(d, false);
  auto s = make_setup(2);
  {
    torch::NoGradGuard g;
    s.model->parameters()[0].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  const std::string msg = deepl::testing::error_message([&] { s.trainer->fit(l, nullptr); });
  EXPECT_NE(msg.find("non-finite training loss at epoch 1"), std::string::npos) << msg;
}

TEST(Trainer, ValidationMetricsAreRecorded) {
  const auto d = synthetic(256, 6);
  auto tl = loader(d, true);
  data::LoaderOptions vo;
  vo.batch_size = 100;
  const data::BatchLoader vl(synthetic(100, 7), torch::Tensor(), vo);
  auto s = make_setup(1);
  s.trainer->fit(tl, &vl);
  ASSERT_TRUE(s.trainer->history()[0].val_accuracy.has_value());
  EXPECT_GE(*s.trainer->history()[0].val_accuracy, 0.0);
  EXPECT_LE(*s.trainer->history()[0].val_accuracy, 1.0);
}

namespace {
// A stand-in for a fine-tuned network: a pretrained "features" backbone and a new "classifier".
struct BackboneAndHead : torch::nn::Module {
  BackboneAndHead() {
    register_module("features", torch::nn::Linear(4, 4));
    register_module("classifier", torch::nn::Linear(4, 2));
  }
};
}  // namespace

TEST(Optim, BackboneGetsItsOwnLearningRateThroughTheSchedule) {
  BackboneAndHead net;
  const json section = {{"type", "sgd"}, {"lr", 0.01},  {"weight_decay", 0.0}, {"momentum", 0.9},
                        {"nesterov", false}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}};
  const auto groups = train::parameter_groups(net, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].parameters.size(), 2u);  // classifier.weight, classifier.bias
  EXPECT_TRUE(groups[0].parameters[0].is_same(net.named_parameters()["classifier.weight"]));
  EXPECT_TRUE(groups[1].parameters[0].is_same(net.named_parameters()["features.weight"]));
  auto opt = train::make_optimizer(deepl::testing::optimizer_options(section), groups);
  EXPECT_DOUBLE_EQ(opt->param_groups()[0].options().get_lr(), 0.01);
  EXPECT_DOUBLE_EQ(opt->param_groups()[1].options().get_lr(), 0.001);
  train::set_learning_rate(*opt, 0.005, {groups[0].lr_scale, groups[1].lr_scale});
  EXPECT_DOUBLE_EQ(train::learning_rate(*opt), 0.005);
  EXPECT_DOUBLE_EQ(opt->param_groups()[1].options().get_lr(), 0.0005);

  EXPECT_EQ(train::parameter_groups(net, 1.0).size(), 1u) << "scale 1: one group";
  for (auto& p : net.named_parameters()) {
    if (p.key().rfind("features.", 0) == 0) p.value().set_requires_grad(false);
  }
  const auto frozen = train::parameter_groups(net, 0.1);
  ASSERT_EQ(frozen.size(), 1u) << "a frozen backbone has nothing to train";
  EXPECT_EQ(frozen[0].parameters.size(), 2u);
}

namespace {

// Trains two copies of a small conv + linear network on the same batches, one with LibTorch's
// optimizer and one with the fused one; returns the largest parameter difference between the two,
// and how far the fused one's parameters moved (so that two idle optimizers cannot pass).
template <typename Reference, typename Fused, typename Options>
std::pair<double, double> fused_vs_reference(const Options& options, bool channels_last, int steps = 25) {
  seed_everything(21);
  torch::nn::Sequential a(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)), torch::nn::ReLU(),
                          torch::nn::Flatten(), torch::nn::Linear(4 * 6 * 6, 5));
  auto b = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(a->clone());
  if (channels_last) {
    for (auto* net : {a.ptr().get(), b.get()})
      for (auto& p : net->parameters())
        if (p.dim() == 4) p.set_data(p.to(p.dtype(), false, false, at::MemoryFormat::ChannelsLast));
  }
  std::vector<torch::Tensor> initial;
  for (const auto& p : b->parameters()) initial.push_back(p.detach().clone());
  Reference reference(a->parameters(), options);
  Fused fused(b->parameters(), options);
  for (int i = 0; i < steps; ++i) {
    const torch::Tensor x = torch::randn({6, 3, 8, 8}), y = torch::randint(0, 5, {6});
    for (auto [net, opt] : {std::pair<torch::nn::SequentialImpl*, torch::optim::Optimizer*>{a.ptr().get(), &reference},
                            {b.get(), &fused}}) {
      opt->zero_grad();
      torch::nn::functional::cross_entropy(net->forward(x), y).backward();
      opt->step();
    }
  }
  EXPECT_EQ(fused.fused_steps(), steps) << "every step took the fused path";
  double worst = 0, moved = 0;
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
    moved = std::max(moved, (pb[i] - initial[i]).abs().max().item<double>());
  }
  return {worst, moved};
}

template <typename Reference, typename Fused, typename Options>
void expect_fused_follows(const Options& options, bool channels_last) {
  const auto [difference, moved] = fused_vs_reference<Reference, Fused>(options, channels_last);
  EXPECT_LT(difference, 1e-5);
  EXPECT_GT(moved, 0.05);
}

}  // namespace

TEST(Optim, FusedAdamFollowsLibTorchAdam) {
  const auto options = torch::optim::AdamOptions(0.01).weight_decay(0.01);
  expect_fused_follows<torch::optim::Adam, train::FusedAdam>(options, false);
  expect_fused_follows<torch::optim::Adam, train::FusedAdam>(options, true);
  expect_fused_follows<torch::optim::Adam, train::FusedAdam>(torch::optim::AdamOptions(0.01).amsgrad(true), false);
}

TEST(Optim, FusedAdamWFollowsLibTorchAdamW) {
  const auto options = torch::optim::AdamWOptions(0.01).weight_decay(0.1);
  expect_fused_follows<torch::optim::AdamW, train::FusedAdamW>(options, false);
  expect_fused_follows<torch::optim::AdamW, train::FusedAdamW>(options, true);
}

TEST(Optim, ShippedAdamConfigsGetTheFusedOptimizer) {
  torch::nn::Linear net(3, 2);
  const json section = {{"type", "adam"}, {"lr", 0.01},  {"weight_decay", 0.0}, {"momentum", 0.9},
                        {"nesterov", false}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}};
  EXPECT_NE(dynamic_cast<train::FusedAdam*>(train::make_optimizer(deepl::testing::optimizer_options(section), train::parameter_groups(*net, 1.0)).get()),
            nullptr);
}

TEST(Optim, SetMomentumSetsSgdsMomentumAndAdamsFirstBetaInEveryGroup) {
  auto net = torch::nn::Sequential(torch::nn::Linear(3, 2));
  const auto groups = train::parameter_groups(*net, 1.0, "features.", true);  // weight; bias without decay
  ASSERT_EQ(groups.size(), 2u);
  for (const std::string type : {"sgd", "adam", "adamw"}) {
    const json section = {{"type", type}, {"lr", 0.01},  {"weight_decay", 0.0}, {"momentum", 0.9},
                          {"nesterov", true}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}};
    auto opt = train::make_optimizer(deepl::testing::optimizer_options(section), groups);
    train::set_momentum(*opt, 0.87);
    for (auto& group : opt->param_groups()) {
      auto& options = group.options();
      if (type == "sgd") {
        EXPECT_DOUBLE_EQ(static_cast<torch::optim::SGDOptions&>(options).momentum(), 0.87);
      } else {
        const auto betas = type == "adam" ? static_cast<torch::optim::AdamOptions&>(options).betas()
                                          : static_cast<torch::optim::AdamWOptions&>(options).betas();
        EXPECT_DOUBLE_EQ(std::get<0>(betas), 0.87) << type;
        EXPECT_DOUBLE_EQ(std::get<1>(betas), 0.999) << type;
      }
    }
    EXPECT_DOUBLE_EQ(train::momentum(*opt), 0.87) << type;
  }
}

namespace {

// Records, at each progress report, the optimizer's momentum and the one the schedule gives.
struct MomentumRecorder : train::Callback {
  MomentumRecorder(std::shared_ptr<torch::optim::Optimizer> optimizer, std::shared_ptr<train::LrScheduler> scheduler)
      : optimizer(std::move(optimizer)), scheduler(std::move(scheduler)) {}
  void on_batch_end(train::Trainer&, const train::BatchProgress&) override {
    applied.push_back(train::momentum(*optimizer));
    scheduled.push_back(scheduler->momentum().value_or(-1));
  }
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  std::shared_ptr<train::LrScheduler> scheduler;
  std::vector<double> applied, scheduled;
};

}  // namespace

TEST(Trainer, OneCycleCyclesTheOptimizersMomentumAsItGoes) {
  const auto d = synthetic(256, 3);  // 8 batches of 32 per epoch, the progress read at each epoch's end
  auto s = make_setup(2, 1e-2, {{"type", "onecycle"}});
  auto recorder = std::make_shared<MomentumRecorder>(s.optimizer, s.scheduler);
  s.trainer->add_callback(recorder);
  auto l = loader(d, true);
  s.trainer->fit(l, nullptr);
  ASSERT_EQ(recorder->applied.size(), 2u);
  EXPECT_EQ(recorder->applied, recorder->scheduled);
  // After 8 of 16 steps, past the peak at step 0.3 x 16 - 1: on the way back up from 0.85 to 0.95.
  const double pct = (8 - 3.8) / (15 - 3.8);
  EXPECT_NEAR(recorder->applied[0], 0.95 + (0.85 - 0.95) / 2 * (std::cos(M_PI * pct) + 1), 1e-12);
  EXPECT_DOUBLE_EQ(recorder->applied[1], 0.95) << "the cycle ends at max_momentum";

  auto constant = make_setup(2, 1e-2, {{"type", "onecycle"}, {"cycle_momentum", false}});
  auto l2 = loader(d, true);
  constant.trainer->fit(l2, nullptr);
  EXPECT_DOUBLE_EQ(train::momentum(*constant.optimizer), 0.9) << "Adam's first beta, untouched";
}

namespace {

// conv (with bias) -> batch norm -> linear, every gradient zero: a step changes a parameter only
// through weight decay.
torch::nn::Sequential conv_bn_linear_with_zero_gradients() {
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)), torch::nn::BatchNorm2d(2),
                            torch::nn::Flatten(), torch::nn::Linear(2 * 4 * 4, 3));
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) {
    p.uniform_(0.5, 1.5);
    p.mutable_grad() = torch::zeros_like(p);
  }
  return net;
}

}  // namespace

TEST(Optim, NoDecayBiasBnLeavesBiasesAndBatchNormUndecayed) {
  for (const std::string type : {"sgd", "adamw"}) {
    auto net = conv_bn_linear_with_zero_gradients();
    const auto groups = train::parameter_groups(*net, 1.0, "features.", true);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_TRUE(groups[0].weight_decay);
    EXPECT_FALSE(groups[1].weight_decay);
    EXPECT_EQ(groups[0].parameters.size(), 2u);  // 0.weight, 3.weight
    EXPECT_EQ(groups[1].parameters.size(), 4u);  // 0.bias, 1.weight, 1.bias, 3.bias
    const json section = {{"type", type}, {"lr", 0.5},  {"weight_decay", 0.2}, {"momentum", 0.0},
                          {"nesterov", false}, {"betas", {0.9, 0.999}}, {"eps", 1e-8}};
    std::map<std::string, torch::Tensor> before;
    for (const auto& p : net->named_parameters()) before[p.key()] = p.value().detach().clone();
    train::make_optimizer(deepl::testing::optimizer_options(section), groups)->step();
    for (const auto& p : net->named_parameters()) {
      const bool decayed = p.value().dim() >= 2;
      // sgd: p -= lr * wd * p; adamw: p *= 1 - lr * wd (a zero gradient adds nothing to either).
      const torch::Tensor expected = decayed ? before[p.key()] * (1 - 0.5 * 0.2) : before[p.key()];
      EXPECT_TRUE(torch::allclose(p.value(), expected, 1e-6, 1e-7)) << type << " " << p.key();
    }
  }
  auto net = conv_bn_linear_with_zero_gradients();
  EXPECT_EQ(train::parameter_groups(*net, 1.0).size(), 1u) << "off: one group, decayed";
}

namespace {

// A conv + batch norm network (an integer buffer too), every weight set to `value`.
std::shared_ptr<models::CnnImpl> constant_cnn(float value) {
  models::CnnBlock block;
  block.convs = {{2, 3, 1, 1}};
  block.batch_norm = true;
  auto net = std::make_shared<models::CnnImpl>(models::CnnOptions(1, 4, 4, 3).blocks({block}));
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.fill_(value);
  return net;
}

}  // namespace

TEST(Ema, FollowsTimmsModelEmaDefinition) {
  auto net = constant_cnn(1.0f);
  train::WeightAverage plain(*net, 0.9, false), warm(*net, 0.9, true);
  EXPECT_DOUBLE_EQ(warm.next_decay(), 0.0) << "1 - (1 + 0)^(-2/3)";
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.fill_(3.0f);
    net->named_buffers()["features.1.num_batches_tracked"].fill_(7);
  }
  plain.update(*net);
  warm.update(*net);
  EXPECT_NEAR(warm.next_decay(), 1 - std::pow(2.0, -2.0 / 3.0), 1e-12);
  for (const auto& [name, t] : plain.weights()) {
    if (name.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(t.item<int64_t>(), 7) << "integer buffers are copied";
    } else if (name.find("running") == std::string::npos) {
      EXPECT_TRUE(torch::allclose(t, torch::full_like(t, 0.9 * 1 + 0.1 * 3))) << name;
      EXPECT_TRUE(torch::allclose(warm.weights().at(name), torch::full_like(t, 3.0))) << "decay 0: the weights";
    }
  }
  plain.swap(*net);
  EXPECT_FLOAT_EQ(net->named_parameters()["classifier.1.bias"][0].item<float>(), 1.2f);
  plain.swap(*net);
  EXPECT_FLOAT_EQ(net->named_parameters()["classifier.1.bias"][0].item<float>(), 3.0f);
}

TEST(Ema, ValidationUsesTheAverageAndBestPtHoldsItLastPtBoth) {
  const auto d = synthetic(256, 3);
  TempDir dir;
  auto s = make_setup(1, 1e-2, kStepSchedule, 8, 0.9);
  s.trainer->add_callback(std::make_shared<train::Checkpointer>(dir.path(), "val_accuracy", train::CheckpointSchedule{},
                                                                [] { return json::object(); }));
  auto l = loader(d, true), val = loader(synthetic(128, 4), false);
  s.trainer->fit(l, &val);
  const auto average = s.trainer->weight_average()->weights();
  const auto best = train::read_checkpoint(dir / "best.pt"), last = train::read_checkpoint(dir / "last.pt");
  EXPECT_EQ(best.meta["weights"], "ema");
  expect_same_tensors(best.model, average);
  EXPECT_TRUE(best.ema.empty());
  EXPECT_EQ(last.meta["weights"], "trained");
  expect_same_tensors(last.model, train::model_state_dict(*s.model));
  expect_same_tensors(last.ema, average);
  EXPECT_FALSE(torch::equal(average.at("1.weight"), s.model->named_parameters()["1.weight"])) << "the average lags";
  train::ScopedAveragedWeights averaged(s.trainer->weight_average(), *s.model);
  EXPECT_EQ(*s.trainer->history().back().val_accuracy,
            eval::evaluate(*s.model, models::Task::kClassification, val, 10).metrics.accuracy);
}
