#include "deepl/run/train_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>

#include "common/assembly.h"
#include "common/data_source.h"
#include "deepl/config/plan.h"
#include "deepl/core/cpu.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/core/signals.h"
#include "deepl/dist/replicas.h"
#include "deepl/eval/inference.h"
#include "deepl/models/vgg.h"
#include "deepl/report/plot.h"
#include "deepl/run/reports.h"
#include "deepl/run/run_report.h"
#include "deepl/run/runs.h"
#include "deepl/train/callbacks.h"
#include "deepl/train/checkpoint.h"
#include "session/auto_resume.h"
#include "session/feature_cache.h"
#include "session/manifest.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What the trainer reads for a split of images: the images themselves or, with a frozen backbone,
// its cached features.
using InputsOf = std::function<data::Dataset(const data::Dataset& images, const std::string& split)>;

struct PreparedData {
  data::Dataset train, test;
  data::SplitIndices split;
  DataStats stats;
};

fs::path where_from(const config::DataPlan& d) {
  switch (d.source.kind) {
    case data::SourceKind::kFolder: return d.source.folder.path;
    case data::SourceKind::kIdx: return d.source.idx.train_images.parent_path();
    case data::SourceKind::kCsv: return d.source.csv.path;
    case data::SourceKind::kRegistered: break;
  }
  return d.root;
}

data::Normalization choose_normalization(const config::DataPlan& d, const data::Dataset& train,
                                         const torch::Tensor& indices) {
  switch (d.normalize) {
    case config::NormalizeMode::kFixed: return d.fixed_normalization;
    case config::NormalizeMode::kNone: return {};
    case config::NormalizeMode::kTrain: break;
  }
  return data::compute_normalization(train, indices);
}

PreparedData prepare_data(const config::ExperimentPlan& plan, bool quiet) {
  const config::DataPlan& d = plan.data;
  PreparedData p;
  p.train = load_plan_split(d, data::Split::kTrain, quiet);
  p.test = load_plan_split(d, data::Split::kTest, quiet);
  p.split = validation_split(p.train, plan);
  if (d.train_limit > 0 && d.train_limit < p.split.train.numel()) p.split.train = p.split.train.slice(0, 0, d.train_limit);
  p.stats.dataset = d.dataset;
  p.stats.normalization = p.train.feature_names.empty() ? choose_normalization(d, p.train, p.split.train)
                                                         : data::Normalization{p.train.feature_mean, p.train.feature_std};
  p.stats.input_shape = p.train.image_shape();
  p.stats.class_names = p.train.class_names;
  p.stats.features = p.train.feature_names;
  p.stats.regression = p.train.regression();
  p.stats.target_mean = p.train.target_mean, p.stats.target_std = p.train.target_std;
  const std::string learned = p.stats.regression ? fmt::format("regression of \"{}\"", p.train.class_names.at(0))
                                                 : fmt::format("{} classes", p.train.num_classes());
  spdlog::info("data: {} from {}: {} train / {} validation / {} test examples, {}, input {}", d.dataset,
               where_from(d).string(), p.split.train.numel(), p.split.val.numel(), p.test.size(), learned,
               fmt::join(p.stats.input_shape, "x"));
  return p;
}

// Which file each example came from, per split, for sources made of files (a folder of pictures).
json data_files(const PreparedData& p) {
  const auto names = [&](const data::Dataset& d, const torch::Tensor& positions) {
    std::vector<std::string> out;
    const auto* index = positions.data_ptr<int64_t>();
    for (int64_t i = 0; i < positions.numel(); ++i) out.push_back(d.files.at(static_cast<size_t>(index[i])));
    return out;
  };
  return {{"train", names(p.train, p.split.train)},
          {"validation", names(p.train, p.split.val)},
          {"test", p.test.files}};
}

void write_learning_curves(const fs::path& path, const std::vector<train::EpochMetrics>& history) {
  report::Series tl{"train", {}, {}, 0x1f77b4}, vl{"validation", {}, {}, 0xff7f0e};
  report::Series ta{"train", {}, {}, 0x1f77b4}, va{"validation", {}, {}, 0xff7f0e};
  for (const auto& m : history) {
    const double x = static_cast<double>(m.epoch);
    tl.x.push_back(x), tl.y.push_back(m.train_loss);
    if (m.train_accuracy) ta.x.push_back(x), ta.y.push_back(*m.train_accuracy);
    if (m.val_loss) vl.x.push_back(x), vl.y.push_back(*m.val_loss);
    if (const auto score = m.val_accuracy ? m.val_accuracy : m.val_r2) va.x.push_back(x), va.y.push_back(*score);
  }
  const bool regression = !history.empty() && !history.front().train_accuracy;
  const report::Chart score = regression ? report::Chart{"Validation R2", "epoch", "r2", {va}}
                                         : report::Chart{"Accuracy", "epoch", "accuracy", {ta, va}};
  report::write_charts_png(path, {{"Loss", "epoch", "loss", {tl, vl}}, score});
}

void resume_from(const fs::path& path, const train::Checkpoint& ckpt, train::Trainer& trainer,
                 models::NetworkImpl& whole_model, const config::ExperimentPlan& plan) {
  check_same_torchscript_file(path, ckpt.meta.at("config"), plan);
  train::load_model_state(whole_model, ckpt.model, path.string());
  if (ckpt.optimizer.isNone()) throw_data(path.string() + ": checkpoint has no optimizer state to resume from");
  train::load_optimizer_state(trainer.optimizer(), ckpt.optimizer, path.string());
  trainer.load_state(ckpt.meta.at("trainer"));
  if (train::LrScheduler* scheduler = trainer.scheduler(); scheduler && !ckpt.meta.at("scheduler").is_null()) {
    scheduler->load_state(train::scheduler_state_from_json(ckpt.meta.at("scheduler"), scheduler->steps_per_epoch()));
  }
  if (train::WeightAverage* average = trainer.weight_average()) {
    if (ckpt.ema.empty()) throw_data(path.string() + ": checkpoint has no weight average (train.ema) to resume from");
    average->load(ckpt.ema, ckpt.meta.at("trainer").at("ema_updates").get<int64_t>(), path.string());
  }
  train::restore_rng(ckpt.rng);
  spdlog::info("resumed from {} after epoch {}", path.string(), trainer.completed_epochs());
}

json communication_summary(const dist::GlooReplicas* replicas) {
  if (!replicas || replicas->stats().steps == 0) return nullptr;
  const auto& s = replicas->stats();
  return {{"gradient_allreduces", s.steps},
          {"buckets_per_step", s.buckets_per_step},
          {"bytes_per_step", s.bytes_per_step},
          {"mean_allreduce_ms", 1000.0 * s.seconds / static_cast<double>(s.steps)}};
}

// A run that --resume auto found finished: its test accuracy, nothing rewritten.
TrainResult finished_result(const fs::path& run_dir) {
  TrainResult result;
  result.run_dir = run_dir;
  result.already_finished = true;
  json metrics = read_object_tolerant(run_dir / "metrics.json");
  if (!metrics.is_object()) metrics = json::object();
  result.test.accuracy = metrics.value("accuracy", 0.0);
  result.test.loss = metrics.value("loss", 0.0);
  if (metrics.contains("r2")) {
    result.test.regression = eval::RegressionMetrics{metrics.value("r2", 0.0), metrics.value("rmse", 0.0),
                                                     metrics.value("mae", 0.0)};
  }
  return result;
}

// Runs `make` on rank 0 first and on the others after it, so work that fills a shared cache runs once.
template <typename F>
auto rank0_first(dist::GlooReplicas* replicas, F make) {
  if (replicas && replicas->rank() != 0) replicas->barrier();
  auto made = make();
  if (replicas && replicas->rank() == 0) replicas->barrier();
  return made;
}

// One training run, assembled step by step from its plan; train_experiment reads as its outline.
class TrainingSession {
 public:
  TrainingSession(config::ExperimentPlan plan, const TrainOptions& options)
      : plan_(std::move(plan)), options_(options), lead_(options.world.rank == 0) {}

  TrainResult run() {
    start_process();
    prepared_ = prepare_data(plan_, options_.quiet || !lead_);  // bad data stops the run before its folder exists
    plan_ = with_model_for_data(plan_, prepared_.stats);
    if (find_checkpoint_to_resume()) return finished_result(result_.run_dir);
    join_group();
    build_model();
    open_run_folder();
    choose_what_trains();
    make_loaders();
    make_trainer();
    resume_if_asked();
    install_stop_handlers();
    trainer_->fit(*train_loader_, has_validation() ? &*val_loader_ : nullptr);
    return finish();
  }

 private:
  fs::path checkpoint_dir() const { return result_.run_dir / "checkpoints"; }
  bool has_validation() const { return val_loader_->num_batches() > 0; }
  models::InputSpec input_spec() const { return prepared_.stats.spec(); }

  void start_process() {
    facts_.started = utc_now_iso8601();
    facts_.world = options_.world;
    if (!lead_) spdlog::set_level(std::max(spdlog::get_level(), spdlog::level::warn));
    result_.threads = facts_.threads = configure_threads(plan_.experiment.threads, options_.world.local_world_size);
    seed_everything(plan_.seed());
    result_.run_dir = options_.run_dir ? *options_.run_dir : plan_.output_dir / plan_.name();
  }

  // Before joining the group: every rank sees the folder as it was, before rank 0 writes to it.
  // Returns true when --resume auto found the run finished.
  bool find_checkpoint_to_resume() {
    if (options_.resume) {
      resume_path_ = *options_.resume;
      resume_checkpoint_ = train::read_checkpoint(resume_path_);
    } else if (options_.resume_auto || plan_.train.resume_auto) {
      AutoResume found = find_auto_resume(result_.run_dir, plan_.experiment);
      if (found.finished) return true;
      resume_checkpoint_ = std::move(found.checkpoint);
      resume_path_ = found.path;
    }
    return false;
  }

  void join_group() {
    if (options_.world.distributed()) replicas_ = std::make_shared<dist::GlooReplicas>(options_.world, plan_.distributed);
    if (replicas_ && !plan_.device.device.is_cpu()) {
      throw_usage("/device: data-parallel training runs on the CPU (Gloo); on CUDA it would need NCCL, which deepl "
                  "does not use yet: set \"device\": \"cpu\"");
    }
    facts_.precision = plan_.precision.explain();
    facts_.device = fmt::format("{} ({})", plan_.device.device.str(), plan_.device.reason);
    spdlog::info("run {}: folder {}, seed {}, {} threads{}, device {}, precision {}, CPU {} ({}), LibTorch {}",
                 plan_.name(), result_.run_dir.string(), plan_.seed(), result_.threads,
                 replicas_ ? fmt::format(" x {} ranks", options_.world.world_size) : "", facts_.device,
                 facts_.precision, cpu_info().model, cpu_info().isa_level(), libtorch_version());
  }

  void open_run_folder() {
    if (!lead_) return;
    ensure_directory(checkpoint_dir());
    if (const int stale = remove_stale_temp_files(result_.run_dir)) {
      spdlog::warn("removed {} temp file(s) left by a run that was killed while writing", stale);
    }
    write_json_file(result_.run_dir / "config.json", plan_.experiment.json);
    if (!prepared_.train.files.empty()) write_json_file(result_.run_dir / "data_files.json", data_files(prepared_));
    write_manifest(result_.run_dir, plan_.experiment, facts_, "running", 0);
  }

  void build_model() {
    model_ = build_network(plan_, input_spec());
    check_input_shape(*model_, plan_.model.type, input_spec());
    check_progressive_sizes(*model_, plan_, input_spec());
  }

  // What the trainer optimises and reads: the whole model on images or, with a frozen backbone,
  // its head on cached backbone features.
  void choose_what_trains() {
    trained_ = model_;
    inputs_of_ = [](const data::Dataset& images, const std::string&) { return images; };
    if (plan_.model.cache_features) {  // the backbone only runs forward: no gradients to check
      auto vgg = std::dynamic_pointer_cast<models::VggImpl>(model_);
      const fs::path cache_dir = plan_.data.root / "cache";
      inputs_of_ = [vgg, cache_dir, plan = plan_, stats = prepared_.stats](const data::Dataset& images,
                                                                           const std::string& split) {
        return cached_features(*vgg, images, split, stats.normalization, plan.model.pretrained.string(), cache_dir,
                               plan.precision);
      };
      trained_ = vgg->head();
      spdlog::info("backbone frozen: training the head on cached features (model.cache_features)");
    } else if (const std::string wrong = avoid_wrong_onednn_gradients(*model_, plan_, input_spec()); !wrong.empty()) {
      facts_.precision += "; oneDNN off: " + wrong;
    }
  }

  void make_loaders() {
    const data::Dataset inputs = rank0_first(replicas_.get(), [&] { return inputs_of_(prepared_.train, "train"); });
    train_loader_.emplace(
        make_loader(inputs, prepared_.split.train, LoaderUse::kTraining, plan_, prepared_.stats, options_.world));
    val_loader_.emplace(
        make_loader(inputs, prepared_.split.val, LoaderUse::kEvaluation, plan_, prepared_.stats, options_.world));
  }

  void make_trainer() {
    const auto groups = train::parameter_groups(*trained_, plan_.optimizer.backbone_lr_scale, "features.",
                                                plan_.optimizer.no_decay_bias_bn);
    auto optimizer = train::make_optimizer(plan_.optimizer, groups);
    std::shared_ptr<train::LrScheduler> scheduler;
    if (plan_.scheduler.enabled()) {
      scheduler = std::make_shared<train::LrScheduler>(plan_.scheduler, plan_.optimizer.lr, plan_.train.epochs,
                                                       train_loader_->num_batches());
    }
    train::TrainerOptions o = plan_.trainer_options(static_cast<int64_t>(prepared_.stats.class_names.size()));
    o.stop_signal = stop_signal;
    o.pause_after_epoch = options_.pause_after_epoch;
    for (const auto& g : groups) o.lr_scales.push_back(g.lr_scale);
    trainer_ = std::make_unique<train::Trainer>(trained_, optimizer, scheduler, o);
    if (replicas_) trainer_->set_replicas(replicas_);
    add_callbacks();
  }

  void add_callbacks() {
    const config::TrainPlan& t = plan_.train;
    trainer_->add_callback(std::make_shared<train::EarlyStopping>(t.early_stopping_monitor, t.early_stopping_patience,
                                                                  t.early_stopping_min_delta));
    if (lead_) {
      trainer_->add_callback(std::make_shared<train::ProgressCallback>(options_.quiet, t.log_every));
      trainer_->add_callback(std::make_shared<train::MetricsWriter>(result_.run_dir));
      const std::string monitor = has_validation() ? t.checkpoint_monitor : "train_loss";
      const json meta = {{"config", plan_.experiment.json}, {"data", prepared_.stats.to_json()}};
      trainer_->add_callback(std::make_shared<train::Checkpointer>(
          checkpoint_dir(), monitor, t.checkpoint, [meta] { return meta; }, model_));
    }
    for (const auto& callback : options_.callbacks) trainer_->add_callback(callback);
  }

  void resume_if_asked() {
    if (resume_checkpoint_) resume_from(resume_path_, *resume_checkpoint_, *trainer_, *model_, plan_);
    resume_checkpoint_.reset();
    // Dropout masks differ across ranks (the weights do not: fit() starts every rank from rank 0's).
    if (replicas_) seed_everything(derive_seed(plan_.seed(), 5000 + static_cast<uint64_t>(options_.world.rank)));
  }

  TrainResult finish() {
    result_.history = trainer_->history();
    result_.stop_reason = trainer_->stop_reason();
    if (trainer_->interrupted_by() != 0) {
      result_.interrupted_by = trainer_->interrupted_by();
      return stop_unevaluated("interrupted", [&] { say_how_to_resume(); });
    }
    if (trainer_->paused()) {
      result_.paused = true;
      return stop_unevaluated("paused", [&] {
        spdlog::info("paused after epoch {} of {}; continue with --resume {}", trainer_->completed_epochs(),
                     plan_.train.epochs, (checkpoint_dir() / "last.pt").string());
      });
    }
    facts_.communication = communication_summary(replicas_.get());
    if (!facts_.communication.is_null()) spdlog::info("gradient all-reduce: {}", facts_.communication.dump());
    if (!lead_) return stop_unevaluated("", [] {});
    write_learning_curves(result_.run_dir / "learning_curves.png", result_.history);
    evaluate_on_test();
    return result_;
  }

  // Ends a run that is not evaluated: the manifest (rank 0) says `status` ("": leave it to rank 0).
  template <typename Say>
  TrainResult stop_unevaluated(const std::string& status, Say say) {
    result_.evaluated = false;
    result_.wall_seconds = seconds_since(start_);
    if (lead_ && !status.empty()) {
      write_manifest(result_.run_dir, plan_.experiment, facts_, status, result_.wall_seconds);
      write_run_report(result_.run_dir);
      say();
    }
    return result_;
  }

  void say_how_to_resume() const {
    const fs::path last = checkpoint_dir() / "last.pt";
    spdlog::warn("stopped by {} after {} complete epoch(s); {} holds the exact position. Resume with: deepl train "
                 "--config {} --resume {}",
                 signal_name(result_.interrupted_by), trainer_->completed_epochs(), last.string(),
                 (result_.run_dir / "config.json").string(), last.string());
  }

  // Reports the best checkpoint on the test set, as a user would evaluate it.
  void evaluate_on_test() {
    const fs::path best_path = checkpoint_dir() / "best.pt";
    const train::Checkpoint best = train::read_checkpoint(best_path);
    train::load_model_state(*model_, best.model, best_path.string());
    const data::Dataset& test = prepared_.test;
    const data::BatchLoader loader =
        make_loader(inputs_of_(test, "test"), torch::Tensor(), LoaderUse::kEvaluation, plan_, prepared_.stats);
    const train::TrainerOptions& o = trainer_->options();
    const eval::Evaluation e = eval::evaluate(*trained_, o.task, loader, o.num_classes, plan_.precision, plan_.tta);
    result_.test = e.metrics;
    result_.wall_seconds = seconds_since(start_);
    write_evaluation_reports(result_.run_dir, e, test, plan_.name() + " test",
                             {{"split", "test"}, {"checkpoint", "checkpoints/best.pt"},
                              {"best_epoch", best.meta.at("epoch")}, {"weights", best.meta.value("weights", "trained")},
                              {"epochs", trainer_->completed_epochs()}, {"train_seconds", result_.wall_seconds}});
    write_manifest(result_.run_dir, plan_.experiment, facts_, "finished", result_.wall_seconds);
    write_run_report(result_.run_dir);
    spdlog::info("test ({} examples, best.pt from epoch {}): {}; wrote {}", e.metrics.examples,
                 best.meta.at("epoch").get<int64_t>(), metrics_summary(e.metrics), result_.run_dir.string());
  }

  config::ExperimentPlan plan_;
  const TrainOptions& options_;
  const bool lead_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  RunFacts facts_;
  TrainResult result_;
  std::optional<train::Checkpoint> resume_checkpoint_;
  fs::path resume_path_;
  std::shared_ptr<dist::GlooReplicas> replicas_;
  PreparedData prepared_;
  std::shared_ptr<models::NetworkImpl> model_, trained_;
  InputsOf inputs_of_;
  std::optional<data::BatchLoader> train_loader_, val_loader_;
  std::unique_ptr<train::Trainer> trainer_;
};

}  // namespace

TrainResult train_experiment(const config::Experiment& experiment, const TrainOptions& options) {
  return train_experiment(config::plan_experiment(experiment), options);
}

TrainResult train_experiment(const config::ExperimentPlan& plan, const TrainOptions& options) {
  return TrainingSession(plan, options).run();
}

}  // namespace deepl::run
