#include "deepl/train/callbacks.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/train/checkpoint.h"

namespace deepl::train {

using nlohmann::json;

namespace {
double metric_value(const EpochMetrics& m, const std::string& monitor) {
  const auto all = m.by_name();
  const auto it = all.find(monitor);
  if (it == all.end()) throw_usage("metric \"" + monitor + "\" is not available (is there a validation split?)");
  return it->second;
}

bool improves(const std::string& monitor, double value, const std::optional<double>& best, double min_delta) {
  if (!best) return true;
  return higher_is_better(monitor) ? value > *best + min_delta : value < *best - min_delta;
}

std::string optional_text(const std::optional<double>& v, const char* format) {
  return v ? fmt::format(fmt::runtime(format), *v) : std::string("-");
}
}  // namespace

void ProgressCallback::on_epoch_start(Trainer& trainer, int64_t epoch, int64_t batches) {
  bar_ = std::make_unique<report::ProgressBar>(fmt::format("epoch {}/{}", epoch, trainer.options().epochs), batches,
                                               quiet_, log_every_);
}

void ProgressCallback::on_batch_end(Trainer&, const BatchProgress& p) {
  const double rate = p.seconds > 0 ? static_cast<double>(p.examples) / p.seconds : 0.0;
  const std::string accuracy = p.accuracy ? fmt::format(" acc {:.4f}", *p.accuracy) : "";
  bar_->update(p.batch, fmt::format("loss {:.4f}{} {:.0f} ex/s", p.mean_loss, accuracy, rate));
}

void ProgressCallback::on_interrupt(Trainer&) {
  if (bar_) bar_->finish();
}

void ProgressCallback::on_epoch_end(Trainer& trainer, const EpochMetrics& m) {
  if (bar_) bar_->finish();
  if (quiet_) return;
  if (m.train_accuracy) {
    spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.4f} | val loss {} acc {} | lr {:.3g} | {} ({:.0f} ex/s)", m.epoch,
                 trainer.options().epochs, m.train_loss, *m.train_accuracy, optional_text(m.val_loss, "{:.4f}"),
                 optional_text(m.val_accuracy, "{:.4f}"), m.lr, report::ProgressBar::format_duration(m.seconds),
                 m.examples_per_second);
  } else {
    spdlog::info("epoch {}/{}: train loss {:.4f} | val loss {} r2 {} | lr {:.3g} | {} ({:.0f} ex/s)", m.epoch,
                 trainer.options().epochs, m.train_loss, optional_text(m.val_loss, "{:.4f}"),
                 optional_text(m.val_r2, "{:.4f}"), m.lr, report::ProgressBar::format_duration(m.seconds),
                 m.examples_per_second);
  }
}

void MetricsWriter::on_epoch_end(Trainer& trainer, const EpochMetrics&) {
  std::string jsonl, csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,examples_per_second,val_r2\n";
  for (const auto& m : trainer.history()) {
    jsonl += m.to_json().dump() + "\n";
    csv += fmt::format("{},{:.6f},{},{},{},{:.6g},{:.3f},{:.1f},{}\n", m.epoch, m.train_loss,
                       optional_text(m.train_accuracy, "{:.6f}"), optional_text(m.val_loss, "{:.6f}"),
                       optional_text(m.val_accuracy, "{:.6f}"), m.lr, m.seconds, m.examples_per_second,
                       optional_text(m.val_r2, "{:.6f}"));
  }
  write_file_atomic(dir_ / "metrics.jsonl", jsonl);
  write_file_atomic(dir_ / "metrics.csv", csv);
}

Checkpointer::Checkpointer(std::filesystem::path dir, std::string monitor, CheckpointSchedule schedule,
                           std::function<json()> meta, std::shared_ptr<models::NetworkImpl> model)
    : dir_(std::move(dir)),
      monitor_(std::move(monitor)),
      schedule_(schedule),
      meta_(std::move(meta)),
      model_(std::move(model)) {}

void Checkpointer::save(Trainer& trainer, const std::filesystem::path& path, bool averaged) const {
  json meta = meta_ ? meta_() : json::object();
  meta["epoch"] = trainer.completed_epochs();
  meta["trainer"] = trainer.state();
  meta["scheduler"] = trainer.scheduler() ? scheduler_state_to_json(trainer.scheduler()->state()) : json();
  WeightAverage* average = trainer.weight_average();
  meta["weights"] = average && averaged ? "ema" : "trained";
  if (average && averaged) {
    const ScopedAveragedWeights swapped(average, trainer.model());
    save_checkpoint(path, model_ ? *model_ : trainer.model(), &trainer.optimizer(), meta);
  } else {
    save_checkpoint(path, model_ ? *model_ : trainer.model(), &trainer.optimizer(), meta, true,
                    average ? average->weights() : std::map<std::string, torch::Tensor>{});
  }
}

void Checkpointer::timed_save(Trainer& trainer, const std::filesystem::path& path, bool averaged) {
  const auto start = Clock::now();
  save(trainer, path, averaged);
  last_write_ = Clock::now();
  last_cost_ = std::chrono::duration<double>(last_write_ - start).count();
  total_cost_ += last_cost_;
  ++writes_;
}

void Checkpointer::write_last(Trainer& trainer) { timed_save(trainer, dir_ / "last.pt"); }

void Checkpointer::on_fit_start(Trainer&) { fit_start_ = last_write_ = Clock::now(); }

bool Checkpointer::snapshot_due(Trainer&, int64_t step) {
  if (schedule_.every_steps > 0 && step % schedule_.every_steps == 0) return true;
  if (schedule_.every_seconds <= 0) return false;
  // A slow disk stretches the interval rather than the run.
  const double interval = std::max(schedule_.every_seconds, last_cost_ / schedule_.max_overhead);
  return std::chrono::duration<double>(Clock::now() - last_write_).count() >= interval;
}

void Checkpointer::on_snapshot(Trainer& trainer) {
  const double since_last = std::chrono::duration<double>(Clock::now() - last_write_).count();
  write_last(trainer);
  spdlog::debug("mid-epoch checkpoint: last.pt after epoch {} and part of the next, in {:.3f} s",
                trainer.completed_epochs(), last_cost_);
  if (schedule_.every_steps > 0 && !warned_overhead_ && last_cost_ > schedule_.max_overhead * since_last) {
    warned_overhead_ = true;
    spdlog::warn("train.checkpoint.every_steps={}: writing last.pt takes {:.2f} s, {:.0f}% of the {:.2f} s of training "
                 "between two checkpoints; raise every_steps to keep it under {:.0f}%",
                 schedule_.every_steps, last_cost_, 100.0 * last_cost_ / std::max(since_last, 1e-9), since_last,
                 100.0 * schedule_.max_overhead);
  }
}

void Checkpointer::on_epoch_end(Trainer& trainer, const EpochMetrics& m) {
  const double value = metric_value(m, monitor_);
  const bool is_best = improves(monitor_, value, best_, 0.0);
  if (is_best) best_ = value;  // before saving, so the saved state knows its own best
  // best.pt before last.pt: a crash between the two leaves last.pt one epoch behind, and the
  // resumed run repeats that epoch and rewrites the same best.pt.
  if (is_best) {
    timed_save(trainer, dir_ / "best.pt", true);
    spdlog::debug("new best {} = {:.4f} at epoch {}", monitor_, value, m.epoch);
  }
  if (m.epoch % schedule_.every_epochs == 0) {
    write_last(trainer);
    last_saved_epoch_ = m.epoch;
  }
}

void Checkpointer::on_interrupt(Trainer& trainer) { write_last(trainer); }

void Checkpointer::on_fit_end(Trainer& trainer) {
  if (trainer.completed_epochs() > 0 && last_saved_epoch_ != trainer.completed_epochs()) {
    write_last(trainer);
    last_saved_epoch_ = trainer.completed_epochs();
  }
  const double training = std::chrono::duration<double>(Clock::now() - fit_start_).count();
  if (writes_ > 0 && training > 0) {
    spdlog::info("checkpoints: {} written in {:.2f} s, {:.1f}% of the {:.1f} s of training", writes_, total_cost_,
                 100.0 * total_cost_ / training, training);
  }
}

json Checkpointer::state() const { return {{"best", best_ ? json(*best_) : json()}, {"monitor", monitor_}}; }

void Checkpointer::load_state(const json& state) {
  best_.reset();
  if (!state.at("best").is_null()) best_ = state.at("best").get<double>();
}

void EarlyStopping::on_epoch_end(Trainer& trainer, const EpochMetrics& m) {
  if (patience_ <= 0) return;
  const double value = metric_value(m, monitor_);
  if (improves(monitor_, value, best_, min_delta_)) {
    best_ = value;
    bad_epochs_ = 0;
    return;
  }
  if (++bad_epochs_ >= patience_) {
    trainer.request_stop(fmt::format("early stopping: {} did not improve for {} epochs (best {:.4f})", monitor_,
                                     patience_, *best_));
    spdlog::info("{}", trainer.stop_reason());
  }
}

json EarlyStopping::state() const { return {{"best", best_ ? json(*best_) : json()}, {"bad_epochs", bad_epochs_}}; }

void EarlyStopping::load_state(const json& state) {
  best_.reset();
  if (!state.at("best").is_null()) best_ = state.at("best").get<double>();
  bad_epochs_ = state.at("bad_epochs");
}

}  // namespace deepl::train
