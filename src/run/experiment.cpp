#include "deepl/run/experiment.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/core/signals.h"
#include "deepl/data/idx.h"
#include "deepl/dist/replicas.h"
#include "deepl/eval/inference.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/summary.h"
#include "deepl/report/plot.h"
#include "deepl/run/data_views.h"
#include "deepl/run/feature_cache.h"
#include "deepl/train/callbacks.h"
#include "deepl/train/checkpoint.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What a run knows about its data besides the pixels; stored in every checkpoint so evaluation
// and prediction rebuild the same inputs without the training set.
struct DataStats {
  std::string dataset;
  data::Normalization normalization;
  std::vector<int64_t> input_shape;  // [C, H, W]
  std::vector<std::string> class_names;

  json to_json() const {
    return {{"dataset", dataset},        {"mean", normalization.mean}, {"std", normalization.std},
            {"input_shape", input_shape}, {"class_names", class_names}};
  }
  static DataStats from_json(const json& j, const std::string& origin) {
    try {
      DataStats s;
      s.dataset = j.at("dataset");
      s.normalization.mean = j.at("mean").get<std::vector<double>>();
      s.normalization.std = j.at("std").get<std::vector<double>>();
      s.input_shape = j.at("input_shape").get<std::vector<int64_t>>();
      s.class_names = j.at("class_names").get<std::vector<std::string>>();
      return s;
    } catch (const json::exception& e) {
      throw_data(origin + ": checkpoint metadata lacks the data statistics (" + e.what() + ")");
    }
  }
  models::InputSpec spec() const {
    return {input_shape.at(0), input_shape.at(1), input_shape.at(2), static_cast<int64_t>(class_names.size())};
  }
};

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
  p.stats.dataset = d.at("dataset");
  p.stats.normalization = choose_normalization(d, p.train, p.split.train);
  p.stats.input_shape = p.train.image_shape();
  p.stats.class_names = p.train.class_names;
  spdlog::info("data: {} from {}: {} train / {} validation examples, {} classes, input {}", p.stats.dataset,
               root.string(), p.split.train.numel(), p.split.val.numel(), p.train.num_classes(),
               fmt::join(p.stats.input_shape, "x"));
  return p;
}

data::BatchLoader make_loader(const data::Dataset& dataset, const torch::Tensor& indices, int64_t batch_size,
                              bool training, const config::Experiment& exp, const DataStats& stats,
                              const dist::WorldInfo& world = {}) {
  const json& d = exp.json.at("data");
  data::LoaderOptions o;
  o.rank = world.rank;
  o.world_size = world.world_size;
  o.batch_size = batch_size;
  o.shuffle = training;
  o.drop_last = training && d.at("drop_last").get<bool>();
  o.seed = exp.seed;
  o.normalization = stats.normalization;
  if (training) {
    if (d.at("random_crop").get<int64_t>() > 0) o.transforms.push_back(data::random_crop(d.at("random_crop")));
    if (d.at("hflip").get<bool>()) o.transforms.push_back(data::horizontal_flip());
  }
  return data::BatchLoader(dataset, indices, o);
}

std::shared_ptr<models::NetworkImpl> build_network(const config::Experiment& exp, const models::InputSpec& spec) {
  return models::build_model(exp.json.at("model"), spec);
}

train::Precision precision_of(const config::Experiment& exp) {
  const json& t = exp.json.at("train");
  return {t.at("precision") == "bf16", t.at("channels_last").get<bool>()};
}

models::Task task_of(const config::Experiment& exp) {
  return models::find_model(exp.json.at("model").at("type")).task;
}

std::vector<int64_t> flat_counts(const torch::Tensor& confusion) {
  const torch::Tensor c = confusion.contiguous().to(torch::kInt64);
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

void write_misclassified(const fs::path& path, const eval::Evaluation& e, const data::Dataset& dataset) {
  const torch::Tensor targets = dataset.labels.index_select(0, e.indices);
  const torch::Tensor wrong = torch::nonzero(e.predictions != targets).flatten();
  const torch::Tensor order = std::get<1>(e.confidence.index_select(0, wrong).sort(0, /*descending=*/true));
  std::vector<report::GridImage> images;
  const auto& names = dataset.class_names;
  for (int64_t k = 0; k < std::min<int64_t>(32, order.numel()); ++k) {
    const int64_t pos = wrong[order[k].item<int64_t>()].item<int64_t>();
    const int64_t index = e.indices[pos].item<int64_t>();
    const int64_t truth = targets[pos].item<int64_t>(), predicted = e.predictions[pos].item<int64_t>();
    images.push_back(grid_image(dataset, index,
                                fmt::format("{} as {} {:.0f}%", names.at(truth), names.at(predicted),
                                            100 * e.confidence[pos].item<double>()),
                                true));
  }
  report::write_image_grid_png(path, images,
                               fmt::format("{} most confident mistakes (true as predicted, confidence)", images.size()),
                               8);
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

void write_evaluation_reports(const fs::path& dir, const eval::Evaluation& e, const data::Dataset& dataset,
                              const std::string& title, const json& extra) {
  json metrics = eval::metrics_to_json(e.metrics, dataset.class_names);
  for (const auto& item : extra.items()) metrics[item.key()] = item.value();
  write_json_file(dir / "metrics.json", metrics);
  write_file_atomic(dir / "confusion_matrix.csv", eval::confusion_to_csv(e.metrics.confusion, dataset.class_names));
  report::write_confusion_matrix_png(dir / "confusion_matrix.png", flat_counts(e.metrics.confusion), dataset.class_names,
                                     fmt::format("{} (accuracy {:.4f})", title, e.metrics.accuracy));
  write_misclassified(dir / "misclassified.png", e, dataset);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void resume_from(const fs::path& path, train::Trainer& trainer, models::NetworkImpl& whole_model) {
  const train::Checkpoint ckpt = train::read_checkpoint(path);
  train::load_model_state(whole_model, ckpt.model, path.string());
  if (ckpt.optimizer.isNone()) throw_data(path.string() + ": checkpoint has no optimizer state to resume from");
  train::load_optimizer_state(trainer.optimizer(), ckpt.optimizer, path.string());
  trainer.load_state(ckpt.meta.at("trainer"));
  if (trainer.scheduler() && !ckpt.meta.at("scheduler").is_null()) trainer.scheduler()->load_state(ckpt.meta.at("scheduler"));
  train::restore_rng(ckpt.rng);
  spdlog::info("resumed from {} after epoch {}", path.string(), trainer.completed_epochs());
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
  const auto replicas = join_replicas(exp, options.world);
  result.run_dir = options.run_dir ? *options.run_dir : fs::path(exp.json.at("output").at("dir").get<std::string>()) / exp.name;
  const fs::path ckpt_dir = result.run_dir / "checkpoints";
  spdlog::info("run {}: folder {}, seed {}, {} threads{}, {}, LibTorch {}", exp.name, result.run_dir.string(), exp.seed,
               result.threads, replicas ? fmt::format(" x {} ranks", options.world.world_size) : "",
               precision_of(exp).describe(), libtorch_version());
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
  const train::Precision precision = precision_of(exp);
  if (precision.channels_last) train::to_channels_last(*model);

  // What the trainer optimises and reads: the whole model on images or, with a frozen backbone,
  // its head on cached backbone features.
  std::shared_ptr<models::NetworkImpl> trained = model;
  std::function<data::Dataset(const data::Dataset&, const std::string&)> inputs_of =
      [](const data::Dataset& images, const std::string&) { return images; };
  if (uses_feature_cache(exp.json)) {
    auto vgg = std::dynamic_pointer_cast<models::VggImpl>(model);
    const fs::path cache_dir = data::resolve_data_root(d.at("root")) / "cache";
    const std::string weights = exp.json.at("model").at("pretrained");
    const data::Normalization normalization = prepared.stats.normalization;
    inputs_of = [vgg, cache_dir, weights, normalization, precision](const data::Dataset& images, const std::string& split) {
      return cached_features(*vgg, images, split, normalization, weights, cache_dir, precision);
    };
    trained = vgg->head();
    spdlog::info("backbone frozen: training the head on cached features (model.cache_features)");
  }
  const data::Dataset train_inputs = rank0_first(replicas.get(), [&] { return inputs_of(prepared.train, "train"); });
  data::BatchLoader train_loader =
      make_loader(train_inputs, prepared.split.train, d.at("batch_size"), true, exp, prepared.stats, options.world);
  data::BatchLoader val_loader =
      make_loader(train_inputs, prepared.split.val, d.at("eval_batch_size"), false, exp, prepared.stats, options.world);
  const auto groups = train::parameter_groups(*trained, exp.json.at("optimizer").at("backbone_lr_scale"));
  auto optimizer = train::make_optimizer(exp.json.at("optimizer"), groups);
  const json& t = exp.json.at("train");
  std::shared_ptr<train::LrScheduler> scheduler;
  if (exp.json.at("scheduler").at("type") != "none") {
    scheduler = std::make_shared<train::LrScheduler>(exp.json.at("scheduler"), exp.json.at("optimizer").at("lr"),
                                                     t.at("epochs"));
  }
  train::TrainerOptions topts;
  topts.epochs = t.at("epochs");
  topts.grad_clip = t.at("grad_clip");
  topts.task = task_of(exp);
  topts.num_classes = static_cast<int64_t>(prepared.stats.class_names.size());
  topts.precision = precision;
  topts.stop_signal = stop_signal;
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
        ckpt_dir, ckpt_monitor, t.at("checkpoint").at("every"),
        [&exp, stats] { return json{{"config", exp.json}, {"data", stats}}; }, model));
  }
  if (options.resume) resume_from(*options.resume, trainer, *model);
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
      say_how_to_resume(result.run_dir, result.interrupted_by, trainer.completed_epochs());
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
  const eval::Evaluation e = eval::evaluate(*trained, topts.task, test_loader, topts.num_classes, precision);
  result.test = e.metrics;
  result.wall_seconds = seconds_since(start);
  write_evaluation_reports(result.run_dir, e, test, exp.name + " test",
                           {{"split", "test"}, {"checkpoint", "checkpoints/best.pt"},
                            {"best_epoch", best.meta.at("epoch")}, {"epochs", trainer.completed_epochs()},
                            {"train_seconds", result.wall_seconds}});
  write_manifest(result.run_dir, exp, facts, "finished", result.wall_seconds);
  spdlog::info("test ({} examples, best.pt from epoch {}): loss {:.4f} accuracy {:.4f} macro-F1 {:.4f}; wrote {}",
               e.metrics.examples, best.meta.at("epoch").get<int64_t>(), e.metrics.loss, e.metrics.accuracy,
               e.metrics.macro_f1, result.run_dir.string());
  return result;
}

namespace {
struct LoadedModel {
  config::Experiment experiment;
  DataStats stats;
  std::shared_ptr<models::NetworkImpl> model;
  models::Task task;
  train::Precision precision;
};

LoadedModel load_model_from_checkpoint(const fs::path& path) {
  const train::Checkpoint ckpt = train::read_checkpoint(path);
  LoadedModel m;
  if (!ckpt.meta.contains("config") || !ckpt.meta.contains("data")) throw_data(path.string() + ": checkpoint lacks its config");
  json config = ckpt.meta.at("config");
  // The checkpoint holds every weight: do not ask for the pretrained file it started from.
  if (config.contains("model") && config["model"].contains("pretrained")) config["model"]["pretrained"] = "";
  m.experiment = config::resolve_experiment(config, {}, path.string() + " (embedded config)");
  m.stats = DataStats::from_json(ckpt.meta.at("data"), path.string());
  m.model = build_network(m.experiment, m.stats.spec());
  m.precision = precision_of(m.experiment);
  if (m.precision.channels_last) train::to_channels_last(*m.model);
  train::load_model_state(*m.model, ckpt.model, path.string());
  m.model->eval();
  m.task = task_of(m.experiment);
  return m;
}
}  // namespace

eval::Metrics evaluate_checkpoint(const fs::path& checkpoint, const EvalOptions& options) {
  const int threads = configure_threads(options.threads);
  LoadedModel m = load_model_from_checkpoint(checkpoint);
  const json& d = m.experiment.json.at("data");
  const fs::path root = data::resolve_data_root(d.at("root"));
  data::Dataset dataset;
  torch::Tensor indices;
  if (options.split == "test") {
    dataset = data::load_dataset(d.at("dataset"), data::Split::kTest, root);
  } else if (options.split == "val") {
    dataset = data::load_dataset(d.at("dataset"), data::Split::kTrain, root);
    indices = data::split_train_val(dataset.labels, d.at("val_fraction"), m.experiment.seed, d.at("stratified")).val;
    if (indices.numel() == 0) throw_usage("--split val: the run had no validation split (data.val_fraction = 0)");
  } else {
    throw_usage("--split: expected test or val, got \"" + options.split + "\"");
  }
  const data::BatchLoader loader = make_loader(dataset, indices, d.at("eval_batch_size"), false, m.experiment, m.stats);
  const auto start = std::chrono::steady_clock::now();
  const eval::Evaluation e = eval::evaluate(*m.model, m.task, loader, static_cast<int64_t>(m.stats.class_names.size()), m.precision);
  const double seconds = seconds_since(start);
  const fs::path out = options.out_dir ? *options.out_dir : checkpoint.parent_path().parent_path() / ("eval-" + options.split);
  write_evaluation_reports(out, e, dataset, fmt::format("{} {}", m.experiment.name, options.split),
                           {{"split", options.split}, {"checkpoint", fs::absolute(checkpoint).string()},
                            {"threads", threads}, {"seconds", seconds}});
  if (!options.quiet) {
    spdlog::info("{} on {} ({} examples, {:.2f}s, {} threads): loss {:.4f} accuracy {:.4f} macro-F1 {:.4f}; wrote {}",
                 checkpoint.string(), options.split, e.metrics.examples, seconds, threads, e.metrics.loss,
                 e.metrics.accuracy, e.metrics.macro_f1, out.string());
  }
  return e.metrics;
}

void predict(const fs::path& checkpoint, const fs::path& input, int top_k, std::ostream& out) {
  LoadedModel m = load_model_from_checkpoint(checkpoint);
  torch::Tensor images = data::read_idx(input);
  const auto& shape = m.stats.input_shape;
  if (images.scalar_type() != torch::kUInt8) throw_data(input.string() + ": expected uint8 images");
  if (images.dim() == 2 || (images.dim() == 3 && shape[0] > 1 && images.size(0) == shape[0])) images = images.unsqueeze(0);
  const std::vector<int64_t> got(images.sizes().begin() + 1, images.sizes().end());
  const std::vector<int64_t> want_hw(shape.begin() + 1, shape.end());
  if (got != want_hw && got != shape) {
    throw_data(fmt::format("{}: images are {}, the model expects {}", input.string(), fmt::join(got, "x"),
                           fmt::join(shape, "x")));
  }
  data::Dataset dataset{"input", images, torch::zeros({images.size(0)}, torch::kInt64), m.stats.class_names};
  data::LoaderOptions o;
  o.batch_size = 1000;
  o.normalization = m.stats.normalization;
  const data::BatchLoader loader(dataset, torch::Tensor(), o);
  const int64_t k = std::clamp<int64_t>(top_k, 1, static_cast<int64_t>(m.stats.class_names.size()));
  torch::InferenceMode guard;
  const eval::InferencePlan plan(*m.model, m.precision);
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const data::Batch batch = loader.batch(b);
    const torch::Tensor outputs = plan.forward(batch.inputs);
    const torch::Tensor probs = eval::class_probabilities(m.task, outputs);
    const auto [values, classes] = probs.topk(k, 1);
    for (int64_t i = 0; i < probs.size(0); ++i) {
      json top = json::array();
      for (int64_t j = 0; j < k; ++j) {
        const int64_t c = classes[i][j].item<int64_t>();
        top.push_back({{"class", c}, {"name", m.stats.class_names.at(c)}, {"probability", values[i][j].item<double>()}});
      }
      out << json{{"index", batch.indices[i].item<int64_t>()}, {"top", top}}.dump() << "\n";
    }
  }
}

void export_weights(const fs::path& checkpoint, const fs::path& out) {
  const LoadedModel m = load_model_from_checkpoint(checkpoint);  // checks the weights fit the model
  io::write_state_dict(out, train::model_state_dict(*m.model));
}

std::string model_summary(const config::Experiment& exp) {
  const auto& info = data::dataset_info(exp.json.at("data").at("dataset"));
  const auto& s = info.image_shape;
  const models::InputSpec spec{s.at(0), s.at(1), s.at(2), static_cast<int64_t>(info.class_names.size())};
  auto model = build_network(exp, spec);
  return models::format_summary(models::summarize(*model, info.image_shape));
}

}  // namespace deepl::run
