#include "deepl/run/experiment.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <climits>

#include "deepl/core/cpu.h"
#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/core/signals.h"
#include "deepl/data/idx.h"
#include "deepl/dist/replicas.h"
#include "deepl/dist/world.h"
#include "deepl/eval/inference.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/summary.h"
#include "deepl/report/plot.h"
#include "deepl/run/data_views.h"
#include "deepl/run/feature_cache.h"
#include "deepl/run/run_report.h"
#include "deepl/run/runs.h"
#include "deepl/train/callbacks.h"
#include "deepl/train/checkpoint.h"
#include "run_parts.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

struct PreparedData {
  data::Dataset train;
  data::SplitIndices split;
  DataStats stats;
};

data::Normalization choose_normalization(const json& d, const data::Dataset& train, const torch::Tensor& indices) {
  const std::string mode = d.at("normalize");
  if (mode == "fixed") return {d.at("mean").get<std::vector<double>>(), d.at("std").get<std::vector<double>>()};
  if (mode == "none") return {};
  return data::compute_normalization(train, indices);
}

PreparedData prepare_data(const config::Experiment& exp) {
  const json& d = exp.json.at("data");
  const fs::path root = data::resolve_data_root(d.at("root"));
  PreparedData p;
  p.train = data::load_dataset(d.at("dataset"), data::Split::kTrain, root);
  p.split = data::split_train_val(p.train.labels, d.at("val_fraction"), exp.seed, d.at("stratified"));
  const int64_t limit = d.at("train_limit");
  if (limit > 0 && limit < p.split.train.numel()) p.split.train = p.split.train.slice(0, 0, limit);
  p.stats.dataset = d.at("dataset");
  p.stats.normalization = choose_normalization(d, p.train, p.split.train);
  p.stats.input_shape = p.train.image_shape();
  p.stats.class_names = p.train.class_names;
  spdlog::info("data: {} from {}: {} train / {} validation examples, {} classes, input {}", p.stats.dataset,
               root.string(), p.split.train.numel(), p.split.val.numel(), p.train.num_classes(),
               fmt::join(p.stats.input_shape, "x"));
  return p;
}

void write_learning_curves(const fs::path& path, const std::vector<train::EpochMetrics>& history) {
  report::Series tl{"train", {}, {}, 0x1f77b4}, vl{"validation", {}, {}, 0xff7f0e};
  report::Series ta{"train", {}, {}, 0x1f77b4}, va{"validation", {}, {}, 0xff7f0e};
  for (const auto& m : history) {
    const double x = static_cast<double>(m.epoch);
    tl.x.push_back(x), tl.y.push_back(m.train_loss);
    ta.x.push_back(x), ta.y.push_back(m.train_accuracy);
    if (m.val_loss) vl.x.push_back(x), vl.y.push_back(*m.val_loss);
    if (m.val_accuracy) va.x.push_back(x), va.y.push_back(*m.val_accuracy);
  }
  report::write_charts_png(path, {{"Loss", "epoch", "loss", {tl, vl}}, {"Accuracy", "epoch", "accuracy", {ta, va}}});
}

void resume_from(const fs::path& path, const train::Checkpoint& ckpt, train::Trainer& trainer,
                 models::NetworkImpl& whole_model) {
  train::load_model_state(whole_model, ckpt.model, path.string());
  if (ckpt.optimizer.isNone()) throw_data(path.string() + ": checkpoint has no optimizer state to resume from");
  train::load_optimizer_state(trainer.optimizer(), ckpt.optimizer, path.string());
  trainer.load_state(ckpt.meta.at("trainer"));
  if (trainer.scheduler() && !ckpt.meta.at("scheduler").is_null()) trainer.scheduler()->load_state(ckpt.meta.at("scheduler"));
  if (train::WeightAverage* average = trainer.weight_average()) {
    if (ckpt.ema.empty()) throw_data(path.string() + ": checkpoint has no weight average (train.ema) to resume from");
    average->load(ckpt.ema, ckpt.meta.at("trainer").at("ema_updates").get<int64_t>(), path.string());
  }
  train::restore_rng(ckpt.rng);
  spdlog::info("resumed from {} after epoch {}", path.string(), trainer.completed_epochs());
}

json cpu_manifest_entry() {
  const CpuInfo& cpu = cpu_info();
  return {{"model", cpu.model},
          {"logical_cores", cpu.logical_cores},
          {"isa_level", cpu.isa_level()},
          {"native_bf16", cpu.native_bf16()}};
}

}  // namespace

void write_manifest(const fs::path& run_dir, const config::Experiment& exp, const RunFacts& facts,
                    const std::string& status, double wall_seconds) {
  write_json_file(run_dir / "manifest.json",
                  {{"name", exp.name},
                   {"status", status},
                   {"seed", exp.seed},
                   {"threads", facts.threads},
                   {"world_size", facts.world.world_size},
                   {"launcher", facts.world.launcher},
                   {"communication", facts.communication},
                   {"deepl_version", deepl_version()},
                   {"libtorch_version", libtorch_version()},
                   {"device", facts.device},
                   {"precision", facts.precision},
                   {"cpu", cpu_manifest_entry()},
                   {"git_commit", git_commit()},
                   {"host", host_name()},
                   {"started", facts.started},
                   {"finished", status == "running" ? json() : json(utc_now_iso8601())},
                   {"wall_seconds", wall_seconds}});
}

namespace {

std::shared_ptr<dist::GlooReplicas> join_replicas(const config::Experiment& exp, const dist::WorldInfo& world) {
  if (!world.distributed()) return nullptr;
  const json& d = exp.json.at("distributed");
  dist::ReplicaOptions o;
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(d.at("timeout_seconds").get<double>() * 1000));
  o.bucket_bytes = static_cast<int64_t>(d.at("bucket_mb").get<double>() * (1 << 20));
  return std::make_shared<dist::GlooReplicas>(world, o);
}

json communication_summary(const dist::GlooReplicas* replicas) {
  if (!replicas || replicas->stats().steps == 0) return nullptr;
  const auto& s = replicas->stats();
  return {{"gradient_allreduces", s.steps},
          {"buckets_per_step", s.buckets_per_step},
          {"bytes_per_step", s.bytes_per_step},
          {"mean_allreduce_ms", 1000.0 * s.seconds / static_cast<double>(s.steps)}};
}

void say_how_to_resume(const fs::path& run_dir, int signal, int64_t completed_epochs) {
  const fs::path last = run_dir / "checkpoints" / "last.pt";
  spdlog::warn("stopped by {} after {} complete epoch(s); {} holds the exact position. Resume with: deepl train "
               "--config {} --resume {}",
               signal_name(signal), completed_epochs, last.string(), (run_dir / "config.json").string(), last.string());
}

train::CheckpointSchedule checkpoint_schedule(const json& c) {
  train::CheckpointSchedule schedule;
  schedule.every_epochs = c.at("every");
  schedule.every_steps = c.at("every_steps");
  schedule.every_seconds = 60.0 * c.at("every_minutes").get<double>();
  return schedule;
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

}  // namespace

TrainResult train_experiment(const config::Experiment& exp, const TrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RunFacts facts;
  facts.started = utc_now_iso8601();
  facts.world = options.world;
  const bool lead = options.world.rank == 0;
  if (!lead) spdlog::set_level(std::max(spdlog::get_level(), spdlog::level::warn));
  TrainResult result;
  result.threads = facts.threads = configure_threads(exp.threads, options.world.local_world_size);
  seed_everything(exp.seed);
  result.run_dir = options.run_dir ? *options.run_dir : fs::path(exp.json.at("output").at("dir").get<std::string>()) / exp.name;
  // Before joining the group: every rank sees the folder as it was, before rank 0 writes to it.
  std::optional<train::Checkpoint> resume_checkpoint;
  fs::path resume_path;
  if (options.resume) {
    resume_path = *options.resume;
    resume_checkpoint = train::read_checkpoint(resume_path);
  } else if (options.resume_auto || exp.json.at("train").at("resume") == "auto") {
    AutoResume found = find_auto_resume(result.run_dir, exp);
    if (found.finished) return finished_result(result.run_dir);
    resume_checkpoint = std::move(found.checkpoint);
    resume_path = found.path;
  }
  const auto replicas = join_replicas(exp, options.world);
  const fs::path ckpt_dir = result.run_dir / "checkpoints";
  const DeviceChoice device = resolve_device(exp.json.at("device"));
  if (replicas && !device.device.is_cpu()) {
    throw_usage("/device: data-parallel training runs on the CPU (Gloo); on CUDA it would need NCCL, which deepl "
                "does not use yet: set \"device\": \"cpu\"");
  }
  const train::Precision precision = precision_of(exp);
  facts.precision = precision.explain();
  facts.device = fmt::format("{} ({})", device.device.str(), device.reason);
  spdlog::info("run {}: folder {}, seed {}, {} threads{}, device {}, precision {}, CPU {} ({}), LibTorch {}", exp.name,
               result.run_dir.string(), exp.seed, result.threads,
               replicas ? fmt::format(" x {} ranks", options.world.world_size) : "", facts.device, facts.precision,
               cpu_info().model, cpu_info().isa_level(), libtorch_version());
  if (lead) {
    ensure_directory(ckpt_dir);
    if (const int stale = remove_stale_temp_files(result.run_dir)) {
      spdlog::warn("removed {} temp file(s) left by a run that was killed while writing", stale);
    }
    write_json_file(result.run_dir / "config.json", exp.json);
    write_manifest(result.run_dir, exp, facts, "running", 0);
  }

  PreparedData prepared = prepare_data(exp);
  const json& d = exp.json.at("data");
  auto model = build_network(exp, prepared.stats.spec());
  model->to(device.device);
  if (precision.channels_last) train::to_channels_last(*model);
  check_progressive_sizes(*model, exp, prepared.stats.spec());

  // What the trainer optimises and reads: the whole model on images or, with a frozen backbone,
  // its head on cached backbone features.
  std::shared_ptr<models::NetworkImpl> trained = model;
  std::function<data::Dataset(const data::Dataset&, const std::string&)> inputs_of =
      [](const data::Dataset& images, const std::string&) { return images; };
  if (uses_feature_cache(exp.json)) {  // the backbone only runs forward: no gradients to check
    auto vgg = std::dynamic_pointer_cast<models::VggImpl>(model);
    const fs::path cache_dir = data::resolve_data_root(d.at("root")) / "cache";
    const std::string weights = exp.json.at("model").at("pretrained");
    const data::Normalization normalization = prepared.stats.normalization;
    inputs_of = [vgg, cache_dir, weights, normalization, precision](const data::Dataset& images, const std::string& split) {
      return cached_features(*vgg, images, split, normalization, weights, cache_dir, precision);
    };
    trained = vgg->head();
    spdlog::info("backbone frozen: training the head on cached features (model.cache_features)");
  } else if (const std::string wrong = avoid_wrong_onednn_gradients(*model, exp, precision, prepared.stats.spec());
             !wrong.empty()) {
    facts.precision += "; oneDNN off: " + wrong;
  }
  const data::Dataset train_inputs = rank0_first(replicas.get(), [&] { return inputs_of(prepared.train, "train"); });
  data::BatchLoader train_loader =
      make_loader(train_inputs, prepared.split.train, d.at("batch_size"), true, exp, prepared.stats, options.world);
  data::BatchLoader val_loader =
      make_loader(train_inputs, prepared.split.val, d.at("eval_batch_size"), false, exp, prepared.stats, options.world);
  const json& o = exp.json.at("optimizer");
  const auto groups =
      train::parameter_groups(*trained, o.at("backbone_lr_scale"), "features.", o.at("no_decay_bias_bn"));
  auto optimizer = train::make_optimizer(o, groups);
  const json& t = exp.json.at("train");
  std::shared_ptr<train::LrScheduler> scheduler;
  const json& sched = exp.json.at("scheduler");
  if (sched.at("type") != "none" || sched.at("warmup_epochs").get<double>() > 0) {
    scheduler = std::make_shared<train::LrScheduler>(sched, o.at("lr"), t.at("epochs"),
                                                     train_loader.num_batches());
  }
  train::TrainerOptions topts;
  topts.epochs = t.at("epochs");
  topts.grad_clip = t.at("grad_clip");
  topts.label_smoothing = t.at("label_smoothing");
  topts.tta = test_time_augmentation(exp);
  topts.ema_decay = t.at("ema").at("decay");
  topts.ema_warmup = t.at("ema").at("warmup");
  topts.task = task_of(exp);
  topts.num_classes = static_cast<int64_t>(prepared.stats.class_names.size());
  topts.precision = precision;
  topts.stop_signal = stop_signal;
  topts.pause_after_epoch = options.pause_after_epoch;
  for (const auto& g : groups) topts.lr_scales.push_back(g.lr_scale);
  train::Trainer trainer(trained, optimizer, scheduler, topts);
  if (replicas) trainer.set_replicas(replicas);
  const bool has_val = val_loader.num_batches() > 0;
  const json& es = t.at("early_stopping");
  trainer.add_callback(std::make_shared<train::EarlyStopping>(es.at("monitor"), es.at("patience"), es.at("min_delta")));
  if (lead) {
    trainer.add_callback(std::make_shared<train::ProgressCallback>(options.quiet, t.at("log_every")));
    trainer.add_callback(std::make_shared<train::MetricsWriter>(result.run_dir));
    const std::string ckpt_monitor = has_val ? t.at("checkpoint").at("monitor").get<std::string>() : "train_loss";
    const json stats = prepared.stats.to_json();
    trainer.add_callback(std::make_shared<train::Checkpointer>(
        ckpt_dir, ckpt_monitor, checkpoint_schedule(t.at("checkpoint")),
        [&exp, stats] { return json{{"config", exp.json}, {"data", stats}}; }, model));
  }
  if (const int steps = dist::env_integer(dist::getenv_lookup, "DEEPL_KILL_AFTER_STEPS", 0, 0, INT_MAX); steps > 0) {
    trainer.add_callback(std::make_shared<train::KillAfterSteps>(steps));
  }
  if (resume_checkpoint) resume_from(resume_path, *resume_checkpoint, trainer, *model);
  resume_checkpoint.reset();
  // Dropout masks differ across ranks (the weights do not: fit() starts every rank from rank 0's).
  if (replicas) seed_everything(derive_seed(exp.seed, 5000 + static_cast<uint64_t>(options.world.rank)));

  install_stop_handlers();
  trainer.fit(train_loader, has_val ? &val_loader : nullptr);
  result.history = trainer.history();
  result.stop_reason = trainer.stop_reason();
  if (trainer.interrupted_by() != 0) {
    result.interrupted_by = trainer.interrupted_by();
    result.evaluated = false;
    result.wall_seconds = seconds_since(start);
    if (lead) {
      write_manifest(result.run_dir, exp, facts, "interrupted", result.wall_seconds);
      write_run_report(result.run_dir);
      say_how_to_resume(result.run_dir, result.interrupted_by, trainer.completed_epochs());
    }
    return result;
  }
  if (trainer.paused()) {
    result.paused = true;
    result.evaluated = false;
    result.wall_seconds = seconds_since(start);
    if (lead) {
      write_manifest(result.run_dir, exp, facts, "paused", result.wall_seconds);
      write_run_report(result.run_dir);
      spdlog::info("paused after epoch {} of {}; continue with --resume {}", trainer.completed_epochs(),
                   topts.epochs, (ckpt_dir / "last.pt").string());
    }
    return result;
  }
  facts.communication = communication_summary(replicas.get());
  if (!facts.communication.is_null()) spdlog::info("gradient all-reduce: {}", facts.communication.dump());
  if (!lead) {
    result.evaluated = false;
    result.wall_seconds = seconds_since(start);
    return result;
  }
  write_learning_curves(result.run_dir / "learning_curves.png", result.history);

  // Report the best checkpoint on the test set, as a user would evaluate it.
  const train::Checkpoint best = train::read_checkpoint(ckpt_dir / "best.pt");
  train::load_model_state(*model, best.model, (ckpt_dir / "best.pt").string());
  const data::Dataset test = data::load_dataset(d.at("dataset"), data::Split::kTest, data::resolve_data_root(d.at("root")));
  const data::BatchLoader test_loader =
      make_loader(inputs_of(test, "test"), torch::Tensor(), d.at("eval_batch_size"), false, exp, prepared.stats);
  const eval::Evaluation e =
      eval::evaluate(*trained, topts.task, test_loader, topts.num_classes, precision, topts.tta);
  result.test = e.metrics;
  result.wall_seconds = seconds_since(start);
  write_evaluation_reports(result.run_dir, e, test, exp.name + " test",
                           {{"split", "test"}, {"checkpoint", "checkpoints/best.pt"},
                            {"best_epoch", best.meta.at("epoch")}, {"weights", best.meta.value("weights", "trained")},
                            {"epochs", trainer.completed_epochs()},
                            {"train_seconds", result.wall_seconds}});
  write_manifest(result.run_dir, exp, facts, "finished", result.wall_seconds);
  write_run_report(result.run_dir);
  spdlog::info("test ({} examples, best.pt from epoch {}): loss {:.4f} accuracy {:.4f} macro-F1 {:.4f}; wrote {}",
               e.metrics.examples, best.meta.at("epoch").get<int64_t>(), e.metrics.loss, e.metrics.accuracy,
               e.metrics.macro_f1, result.run_dir.string());
  return result;
}

}  // namespace deepl::run
