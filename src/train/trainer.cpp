#include "deepl/train/trainer.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "deepl/core/error.h"

namespace deepl::train {

using nlohmann::json;

std::map<std::string, double> EpochMetrics::by_name() const {
  std::map<std::string, double> m{{"train_loss", train_loss}, {"train_accuracy", train_accuracy}};
  if (val_loss) m["val_loss"] = *val_loss;
  if (val_accuracy) m["val_accuracy"] = *val_accuracy;
  return m;
}

json EpochMetrics::to_json() const {
  json j = {{"epoch", epoch}, {"train_loss", train_loss}, {"train_accuracy", train_accuracy},
            {"val_loss", nullptr}, {"val_accuracy", nullptr}, {"lr", lr}, {"seconds", seconds},
            {"examples_per_second", examples_per_second}};
  if (val_loss) j["val_loss"] = *val_loss;
  if (val_accuracy) j["val_accuracy"] = *val_accuracy;
  return j;
}

EpochMetrics EpochMetrics::from_json(const json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch");
  m.train_loss = j.at("train_loss");
  m.train_accuracy = j.at("train_accuracy");
  if (!j.at("val_loss").is_null()) m.val_loss = j.at("val_loss").get<double>();
  if (!j.at("val_accuracy").is_null()) m.val_accuracy = j.at("val_accuracy").get<double>();
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
}

void Trainer::add_callback(std::shared_ptr<Callback> callback) { callbacks_.push_back(std::move(callback)); }

void Trainer::set_gradient_reducer(std::shared_ptr<GradientReducer> reducer) { reducer_ = std::move(reducer); }

void Trainer::request_stop(const std::string& reason) {
  stop_requested_ = true;
  if (stop_reason_.empty()) stop_reason_ = reason;
}

EpochMetrics Trainer::train_epoch(data::BatchLoader& train, int64_t epoch) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  model_->train();
  train.set_epoch(epoch);
  const int64_t batches = train.num_batches();
  for (auto& cb : callbacks_) cb->on_epoch_start(*this, epoch, batches);
  torch::Tensor loss_total = torch::zeros({}, torch::kFloat64);
  torch::Tensor correct = torch::zeros({}, torch::kInt64);
  int64_t seen = 0;
  BatchProgress progress;
  progress.epoch = epoch;
  progress.batches = batches;
  for (int64_t i = 0; i < batches; ++i) {
    const data::Batch batch = train.batch(i);
    for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();  // zero_grad, set to none
    torch::Tensor outputs;
    {
      AutocastGuard autocast(options_.precision.bf16);
      outputs = model_->forward(options_.precision.prepare(batch.inputs));
    }
    const torch::Tensor summed = eval::loss_sum(options_.task, outputs.to(torch::kFloat32), batch.targets);
    const int64_t n = batch.targets.size(0);
    (summed / static_cast<double>(n)).backward();
    if (reducer_) reducer_->reduce(parameters_);
    if (options_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(parameters_, options_.grad_clip);
    optimizer_->step();
    {
      torch::NoGradGuard no_grad;
      loss_total += summed.detach().to(torch::kFloat64);
      correct += (eval::predict_classes(options_.task, outputs.detach()) == batch.targets).sum();
    }
    seen += n;
    const bool last = i + 1 == batches;
    if (last || (i + 1) % options_.refresh_every == 0) {
      progress.batch = i + 1;
      progress.examples = seen;
      progress.mean_loss = loss_total.item<double>() / static_cast<double>(seen);
      progress.accuracy = static_cast<double>(correct.item<int64_t>()) / static_cast<double>(seen);
      progress.seconds = std::chrono::duration<double>(clock::now() - start).count();
      if (!std::isfinite(progress.mean_loss)) {
        throw_failure(fmt::format("non-finite training loss at epoch {}, batch {}: stopping; the checkpoints "
                                  "written so far are kept (lower optimizer.lr or set train.grad_clip)",
                                  epoch, i + 1));
      }
      for (auto& cb : callbacks_) cb->on_batch_end(*this, progress);
    }
  }
  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = progress.mean_loss;
  m.train_accuracy = progress.accuracy;
  m.lr = learning_rate(*optimizer_);
  m.seconds = std::chrono::duration<double>(clock::now() - start).count();
  m.examples_per_second = m.seconds > 0 ? static_cast<double>(seen) / m.seconds : 0.0;
  return m;
}

void Trainer::fit(data::BatchLoader& train, const data::BatchLoader* val) {
  stop_requested_ = false;
  for (auto& cb : callbacks_) cb->on_fit_start(*this);
  for (int64_t epoch = completed_epochs() + 1; epoch <= options_.epochs && !stop_requested_; ++epoch) {
    EpochMetrics m = train_epoch(train, epoch);
    if (val && val->num_batches() > 0) {
      const auto result = eval::evaluate(*model_, options_.task, *val, options_.num_classes, options_.precision);
      m.val_loss = result.metrics.loss;
      m.val_accuracy = result.metrics.accuracy;
    }
    if (scheduler_) set_learning_rate(*optimizer_, scheduler_->step(m.by_name()));
    history_.push_back(m);
    for (auto& cb : callbacks_) cb->on_epoch_end(*this, m);
  }
  for (auto& cb : callbacks_) cb->on_fit_end(*this);
}

json Trainer::state() const {
  json history = json::array();
  for (const auto& m : history_) history.push_back(m.to_json());
  json callbacks = json::object();
  for (const auto& cb : callbacks_)
    if (!cb->name().empty()) callbacks[cb->name()] = cb->state();
  return {{"history", history}, {"callbacks", callbacks}, {"stop_reason", stop_reason_}};
}

void Trainer::load_state(const json& state) {
  history_.clear();
  for (const auto& m : state.at("history")) history_.push_back(EpochMetrics::from_json(m));
  const json& saved = state.at("callbacks");
  for (auto& cb : callbacks_) {
    if (!cb->name().empty() && saved.contains(cb->name())) cb->load_state(saved.at(cb->name()));
  }
}

}  // namespace deepl::train
