#include "deepl/train/callbacks.h"

#include <fmt/format.h>
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

bool higher_is_better(const std::string& monitor) { return monitor.find("accuracy") != std::string::npos; }

void ProgressCallback::on_epoch_start(Trainer& trainer, int64_t epoch, int64_t batches) {
  bar_ = std::make_unique<report::ProgressBar>(fmt::format("epoch {}/{}", epoch, trainer.options().epochs), batches,
                                               quiet_, log_every_);
}

void ProgressCallback::on_batch_end(Trainer&, const BatchProgress& p) {
  const double rate = p.seconds > 0 ? static_cast<double>(p.examples) / p.seconds : 0.0;
  bar_->update(p.batch, fmt::format("loss {:.4f} acc {:.4f} {:.0f} ex/s", p.mean_loss, p.accuracy, rate));
}

void ProgressCallback::on_interrupt(Trainer&) {
  if (bar_) bar_->finish();
}

void ProgressCallback::on_epoch_end(Trainer& trainer, const EpochMetrics& m) {
  if (bar_) bar_->finish();
  if (quiet_) return;
  spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.4f} | val loss {} acc {} | lr {:.3g} | {} ({:.0f} ex/s)", m.epoch,
               trainer.options().epochs, m.train_loss, m.train_accuracy, optional_text(m.val_loss, "{:.4f}"),
               optional_text(m.val_accuracy, "{:.4f}"), m.lr, report::ProgressBar::format_duration(m.seconds),
               m.examples_per_second);
}

void MetricsWriter::on_epoch_end(Trainer& trainer, const EpochMetrics&) {
  std::string jsonl, csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,examples_per_second\n";
  for (const auto& m : trainer.history()) {
    jsonl += m.to_json().dump() + "\n";
    csv += fmt::format("{},{:.6f},{:.6f},{},{},{:.6g},{:.3f},{:.1f}\n", m.epoch, m.train_loss, m.train_accuracy,
                       optional_text(m.val_loss, "{:.6f}"), optional_text(m.val_accuracy, "{:.6f}"), m.lr, m.seconds,
                       m.examples_per_second);
  }
  write_file_atomic(dir_ / "metrics.jsonl", jsonl);
  write_file_atomic(dir_ / "metrics.csv", csv);
}

Checkpointer::Checkpointer(std::filesystem::path dir, std::string monitor, int64_t every, std::function<json()> meta,
                           std::shared_ptr<models::NetworkImpl> model)
    : dir_(std::move(dir)), monitor_(std::move(monitor)), every_(every), meta_(std::move(meta)), model_(std::move(model)) {}

void Checkpointer::save(Trainer& trainer, const std::filesystem::path& path) const {
  json meta = meta_ ? meta_() : json::object();
  meta["epoch"] = trainer.completed_epochs();
  meta["trainer"] = trainer.state();
  meta["scheduler"] = trainer.scheduler() ? trainer.scheduler()->state() : json();
  save_checkpoint(path, model_ ? *model_ : trainer.model(), &trainer.optimizer(), meta);
}

void Checkpointer::on_epoch_end(Trainer& trainer, const EpochMetrics& m) {
  const double value = metric_value(m, monitor_);
  const bool is_best = improves(monitor_, value, best_, 0.0);
  if (is_best) best_ = value;  // before saving, so the saved state knows its own best
  // best.pt before last.pt: a crash between the two leaves last.pt one epoch behind, and the
  // resumed run repeats that epoch and rewrites the same best.pt.
  if (is_best) {
    save(trainer, dir_ / "best.pt");
    spdlog::debug("new best {} = {:.4f} at epoch {}", monitor_, value, m.epoch);
  }
  if (m.epoch % every_ == 0) {
    save(trainer, dir_ / "last.pt");
    last_saved_epoch_ = m.epoch;
  }
}

void Checkpointer::on_interrupt(Trainer& trainer) { save(trainer, dir_ / "last.pt"); }

void Checkpointer::on_fit_end(Trainer& trainer) {
  if (trainer.completed_epochs() > 0 && last_saved_epoch_ != trainer.completed_epochs()) {
    save(trainer, dir_ / "last.pt");
    last_saved_epoch_ = trainer.completed_epochs();
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
