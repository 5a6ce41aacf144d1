#include "deepl/train/trainer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>

#include "deepl/core/device.h"
#include "deepl/core/error.h"

namespace deepl::train {

nlohmann::json Callback::state() const { return nullptr; }

void Callback::load_state(const nlohmann::json&) {}

using nlohmann::json;

std::map<std::string, double> EpochMetrics::by_name() const {
  std::map<std::string, double> m{{"train_loss", train_loss}};
  if (train_accuracy) m["train_accuracy"] = *train_accuracy;
  if (val_loss) m["val_loss"] = *val_loss;
  if (val_accuracy) m["val_accuracy"] = *val_accuracy;
  if (val_r2) m["val_r2"] = *val_r2;
  return m;
}

json EpochMetrics::to_json() const {
  const auto value = [](const std::optional<double>& v) { return v ? json(*v) : json(); };
  json j = {{"epoch", epoch}, {"train_loss", train_loss}, {"train_accuracy", value(train_accuracy)},
            {"val_loss", value(val_loss)}, {"val_accuracy", value(val_accuracy)}, {"lr", lr}, {"seconds", seconds},
            {"examples_per_second", examples_per_second}};
  if (val_r2) j["val_r2"] = *val_r2;
  return j;
}

EpochMetrics EpochMetrics::from_json(const json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch");
  m.train_loss = j.at("train_loss");
  const auto value = [&](const char* key) {
    const json v = j.value(key, json());
    return v.is_null() ? std::optional<double>() : v.get<double>();
  };
  m.train_accuracy = value("train_accuracy");
  m.val_loss = value("val_loss");
  m.val_accuracy = value("val_accuracy");
  m.val_r2 = value("val_r2");
  m.lr = j.at("lr");
  m.seconds = j.at("seconds");
  m.examples_per_second = j.at("examples_per_second");
  return m;
}

Trainer::Trainer(std::shared_ptr<models::NetworkImpl> model, std::shared_ptr<torch::optim::Optimizer> optimizer,
                 std::shared_ptr<LrScheduler> scheduler, TrainerOptions options)
    : model_(std::move(model)), optimizer_(std::move(optimizer)), scheduler_(std::move(scheduler)), options_(options) {
  for (const auto& group : optimizer_->param_groups())
    for (const auto& p : group.params()) parameters_.push_back(p);
  if (options_.ema_decay > 0) ema_ = std::make_unique<WeightAverage>(*model_, options_.ema_decay, options_.ema_warmup);
}

void Trainer::add_callback(std::shared_ptr<Callback> callback) { callbacks_.push_back(std::move(callback)); }

void Trainer::set_replicas(std::shared_ptr<Replicas> replicas) { replicas_ = std::move(replicas); }

void Trainer::request_stop(const std::string& reason) {
  stop_requested_ = true;
  if (stop_reason_.empty()) stop_reason_ = reason;
}

bool Trainer::stop_requested_by_signal() {
  const int sig = options_.stop_signal ? options_.stop_signal() : 0;
  if (sig != 0 && interrupted_by_ == 0) interrupted_by_ = sig;
  return sig != 0;
}

bool Trainer::snapshot_due(int64_t step) {
  bool due = false;
  for (auto& cb : callbacks_) due = cb->snapshot_due(*this, step) || due;
  return due;
}

void Trainer::take_snapshot(const EpochPosition& position) {
  position_ = position;
  if (replicas_) sum_position_over_ranks();
  for (auto& cb : callbacks_) cb->on_snapshot(*this);
  position_.reset();
}

EpochMetrics Trainer::train_epoch(data::BatchLoader& train, int64_t epoch) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  model_->train();
  train.set_epoch(epoch);
  const int64_t batches = train.num_batches();
  EpochPosition resumed;
  if (position_ && position_->epoch == epoch) resumed = *position_;
  position_.reset();
  for (auto& cb : callbacks_) cb->on_epoch_start(*this, epoch, batches);
  // Accumulated where the model computes, read once per progress refresh.
  const auto on_device = torch::TensorOptions().device(device_of(*model_));
  torch::Tensor loss_total = torch::tensor(resumed.loss_total, on_device.dtype(torch::kFloat64));
  torch::Tensor correct = torch::tensor(resumed.correct, on_device.dtype(torch::kInt64));
  int64_t seen = resumed.seen;
  BatchProgress progress;
  progress.epoch = epoch;
  progress.batches = batches;
  const auto elapsed = [&] { return resumed.seconds + std::chrono::duration<double>(clock::now() - start).count(); };
  for (int64_t i = resumed.batches_done; i < batches; ++i) {
    const data::Batch batch = train.batch(i);
    for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();  // zero_grad, set to none
    const int64_t n = batch.targets.size(0);
    if (n > 0) forward_backward(batch, loss_total, correct);  // a rank's share of the last batch may be empty
    const bool last = i + 1 == batches;
    const int64_t step = (epoch - 1) * batches + i + 1;  // optimizer steps since the run began
    StepVotes votes{stop_requested_by_signal(), !last && snapshot_due(step)};
    if (replicas_) votes = replicas_->reduce_gradients(parameters_, votes);
    step_optimizer();
    seen += n;
    for (auto& cb : callbacks_) cb->on_step_end(*this, step);
    const auto here = [&] {
      return EpochPosition{epoch, i + 1, correct.item<int64_t>(), seen, loss_total.item<double>(), elapsed()};
    };
    if (votes.stop && !last) {
      if (interrupted_by_ == 0) interrupted_by_ = SIGTERM;  // another rank was signalled
      position_ = here();
      return {};
    }
    if (votes.snapshot && !last) take_snapshot(here());
    if (last || (i + 1) % options_.refresh_every == 0) {
      progress.batch = i + 1;
      progress.examples = seen * (replicas_ ? replicas_->world_size() : 1);
      progress.mean_loss = seen > 0 ? loss_total.item<double>() / static_cast<double>(seen) : 0.0;
      if (classifies()) {
        progress.accuracy = seen > 0 ? static_cast<double>(correct.item<int64_t>()) / static_cast<double>(seen) : 0.0;
      }
      progress.seconds = elapsed();
      if (!std::isfinite(progress.mean_loss)) {
        throw_failure(fmt::format("non-finite training loss at epoch {}, batch {}: stopping; the checkpoints "
                                  "written so far are kept (lower optimizer.lr or set train.grad_clip)",
                                  epoch, i + 1));
      }
      for (auto& cb : callbacks_) cb->on_batch_end(*this, progress);
    }
  }
  return epoch_metrics(epoch, loss_total, correct, seen, elapsed());
}

void Trainer::forward_backward(const data::Batch& batch, torch::Tensor& loss_total, torch::Tensor& correct) {
  torch::Tensor outputs;
  {
    deepl::AutocastGuard autocast(options_.precision.bf16);
    outputs = model_->forward(options_.precision.prepare(batch.inputs));
  }
  const torch::Tensor summed =
      eval::loss_sum(options_.task, outputs.to(torch::kFloat32), batch.targets, options_.label_smoothing);
  (summed / static_cast<double>(batch.global_examples)).backward();
  torch::NoGradGuard no_grad;
  loss_total += summed.detach().to(torch::kFloat64);
  if (classifies()) correct += (eval::predict_classes(options_.task, outputs.detach()) == batch.targets).sum();
}

void Trainer::step_optimizer() {
  if (options_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(parameters_, options_.grad_clip);
  optimizer_->step();
  if (ema_) ema_->update(*model_);
  if (scheduler_) {
    const double lr = scheduler_->step_batch();
    if (scheduler_->per_step()) apply_schedule(lr);
  }
}

EpochMetrics Trainer::epoch_metrics(int64_t epoch, const torch::Tensor& loss_total, const torch::Tensor& correct,
                                    int64_t seen, double seconds) {
  // Epoch totals over all ranks: [summed loss, correct, examples].
  std::vector<torch::Tensor> totals = {torch::stack(
      {loss_total.cpu(), correct.cpu().to(torch::kFloat64), torch::tensor(static_cast<double>(seen), torch::kFloat64)})};
  if (replicas_) replicas_->sum(totals);
  const double examples = totals[0][2].item<double>();
  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = totals[0][0].item<double>() / examples;
  if (classifies()) m.train_accuracy = totals[0][1].item<double>() / examples;
  m.lr = learning_rate(*optimizer_);
  m.seconds = seconds;
  m.examples_per_second = m.seconds > 0 ? examples / m.seconds : 0.0;
  return m;
}

eval::Metrics Trainer::validate(const data::BatchLoader& val) {
  const ScopedAveragedWeights averaged(ema_.get(), *model_);
  eval::Metrics local = eval::evaluate(*model_, options_.task, val, options_.num_classes, options_.precision,
                                         options_.tta).metrics;
  if (!replicas_) return local;
  std::vector<torch::Tensor> totals = {classifies() ? local.confusion : local.regression_sums};
  std::vector<torch::Tensor> loss = {torch::tensor(local.loss * static_cast<double>(local.examples), torch::kFloat64)};
  replicas_->sum(totals);
  replicas_->sum(loss);
  if (classifies()) return eval::metrics_from_confusion(totals[0], loss[0].item<double>());
  return eval::metrics_from_regression_sums(totals[0], loss[0].item<double>(), val.dataset().target_std);
}

void Trainer::start_from_rank0_weights() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const auto& p : model_->parameters()) state.push_back(p);
  for (const auto& b : model_->buffers()) state.push_back(b);
  for (auto& t : state) {
    std::vector<torch::Tensor> one = {t};
    replicas_->broadcast(one);
  }
}

void Trainer::apply_schedule(double lr) {
  set_learning_rate(*optimizer_, lr, options_.lr_scales);
  if (const auto momentum = scheduler_->momentum()) set_momentum(*optimizer_, *momentum);
}

void Trainer::fit(data::BatchLoader& train, const data::BatchLoader* val) {
  stop_requested_ = false;
  interrupted_by_ = 0;
  paused_ = false;
  if (replicas_) start_from_rank0_weights();
  if (ema_ && ema_->updates() == 0) ema_->reset(*model_);  // rank 0's weights, or loaded ones
  if (scheduler_) apply_schedule(scheduler_->lr());  // a warm-up's first lr, a cycle's first momentum
  for (auto& cb : callbacks_) cb->on_fit_start(*this);
  for (int64_t epoch = completed_epochs() + 1; epoch <= options_.epochs && !stop_requested_; ++epoch) {
    EpochMetrics m = train_epoch(train, epoch);
    if (position_) {
      if (replicas_) sum_position_over_ranks();
      for (auto& cb : callbacks_) cb->on_interrupt(*this);
      return;
    }
    if (val && val->num_batches() > 0) {
      const eval::Metrics v = validate(*val);
      m.val_loss = v.loss;
      if (v.regression) {
        m.val_r2 = v.regression->r2;
      } else {
        m.val_accuracy = v.accuracy;
      }
    }
    if (scheduler_) apply_schedule(scheduler_->step(m.by_name()));
    history_.push_back(m);
    for (auto& cb : callbacks_) cb->on_epoch_end(*this, m);
    if (stop_between_epochs()) {  // the checkpoints just written hold the state
      for (auto& cb : callbacks_) cb->on_interrupt(*this);
      return;
    }
    if (epoch == options_.pause_after_epoch && epoch < options_.epochs && !stop_requested_) {
      paused_ = true;
      for (auto& cb : callbacks_) cb->on_interrupt(*this);
      return;
    }
  }
  for (auto& cb : callbacks_) cb->on_fit_end(*this);
}

bool Trainer::stop_between_epochs() {
  bool stop = stop_requested_by_signal();
  if (!replicas_) return stop;
  std::vector<torch::Tensor> votes = {torch::tensor(stop ? 1.0 : 0.0, torch::kFloat64)};
  replicas_->sum(votes);
  stop = votes[0].item<double>() > 0;
  if (stop && interrupted_by_ == 0) interrupted_by_ = SIGTERM;  // another rank was signalled
  return stop;
}

void Trainer::sum_position_over_ranks() {
  std::vector<torch::Tensor> totals = {torch::tensor(
      {position_->loss_total, static_cast<double>(position_->correct), static_cast<double>(position_->seen)},
      torch::kFloat64)};
  replicas_->sum(totals);
  position_->loss_total = totals[0][0].item<double>();
  position_->correct = static_cast<int64_t>(totals[0][1].item<double>());
  position_->seen = static_cast<int64_t>(totals[0][2].item<double>());
}

json Trainer::state() const {
  json history = json::array();
  for (const auto& m : history_) history.push_back(m.to_json());
  json callbacks = json::object();
  for (const auto& cb : callbacks_)
    if (!cb->name().empty()) callbacks[cb->name()] = cb->state();
  json position = nullptr;
  if (position_) {
    position = {{"epoch", position_->epoch},   {"batches_done", position_->batches_done},
                {"correct", position_->correct}, {"seen", position_->seen},
                {"loss_total", position_->loss_total}, {"seconds", position_->seconds}};
  }
  return {{"history", history},          {"callbacks", callbacks},
          {"stop_reason", stop_reason_},  {"epoch_position", position},
          {"ema_updates", ema_ ? json(ema_->updates()) : json()}};
}

void Trainer::load_state(const json& state) {
  history_.clear();
  for (const auto& m : state.at("history")) history_.push_back(EpochMetrics::from_json(m));
  const json& saved = state.at("callbacks");
  for (auto& cb : callbacks_) {
    if (!cb->name().empty() && saved.contains(cb->name())) cb->load_state(saved.at(cb->name()));
  }
  position_.reset();
  const json position = state.value("epoch_position", json());
  if (!position.is_null()) {
    position_ = EpochPosition{position.at("epoch"), position.at("batches_done"), position.at("correct"),
                              position.at("seen"), position.at("loss_total"), position.at("seconds")};
    // The saved totals are summed over ranks: one rank carries them into the epoch's final sum.
    if (replicas_ && replicas_->rank() != 0) position_->loss_total = 0, position_->correct = 0, position_->seen = 0;
  }
}

}  // namespace deepl::train
