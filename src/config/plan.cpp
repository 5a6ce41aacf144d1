#include "deepl/config/plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "deepl/core/cpu.h"
#include "deepl/core/error.h"
#include "deepl/data/dataset.h"
#include "deepl/data/sources.h"

namespace deepl::config {

using nlohmann::json;

namespace {

std::pair<double, double> number_pair(const json& list) { return {list.at(0).get<double>(), list.at(1).get<double>()}; }

NormalizeMode normalize_mode(const std::string& mode) {
  if (mode == "fixed") return NormalizeMode::kFixed;
  if (mode == "none") return NormalizeMode::kNone;
  return NormalizeMode::kTrain;
}

data::ResizePolicy resize_policy(const std::string& name) {
  if (name == "stretch") return data::ResizePolicy::kStretch;
  if (name == "crop") return data::ResizePolicy::kCrop;
  return data::ResizePolicy::kFit;
}

data::FolderSource folder_source(const json& d) {
  data::FolderSource f;
  f.path = d.at("path").get<std::string>();
  f.test_fraction = d.at("test_fraction");
  if (d.at("image_size").is_array()) f.image_size = {d["image_size"][0].get<int64_t>(), d["image_size"][1].get<int64_t>()};
  if (d.at("channels").is_number()) f.channels = d["channels"];
  f.resize = resize_policy(d.at("resize"));
  f.skip_bad_images = d.at("on_bad_image") == "skip";
  f.cache_dir = d.at("cache_dir").get<std::string>();
  return f;
}

data::IdxSource idx_source(const json& d) {
  data::IdxSource s;
  s.train_images = d.at("train_images").get<std::string>();
  s.train_labels = d.at("train_labels").get<std::string>();
  s.test_images = d.at("test_images").get<std::string>();
  s.test_labels = d.at("test_labels").get<std::string>();
  s.class_names = d.at("class_names").get<std::vector<std::string>>();
  return s;
}

data::CsvSource csv_source(const json& d) {
  data::CsvSource s;
  s.path = d.at("path").get<std::string>();
  s.target = d.at("target");
  s.features = d.at("features").get<std::vector<std::string>>();
  s.test_fraction = d.at("test_fraction");
  const std::string task = d.at("task");
  s.task = task == "regression"       ? data::TableTask::kRegression
           : task == "classification" ? data::TableTask::kClassification
                                      : data::TableTask::kAuto;
  return s;
}

DataPlan data_plan(const json& d) {
  DataPlan p;
  p.dataset = d.at("dataset");
  p.root = data::resolve_data_root(d.at("root"));
  p.source.kind = data::source_kind(p.dataset);
  p.source.dataset = p.dataset;
  p.source.root = p.root;
  if (p.source.kind == data::SourceKind::kFolder) p.source.folder = folder_source(d);
  if (p.source.kind == data::SourceKind::kIdx) p.source.idx = idx_source(d);
  if (p.source.kind == data::SourceKind::kCsv) p.source.csv = csv_source(d);
  p.val_fraction = d.at("val_fraction");
  p.stratified = d.at("stratified");
  p.train_limit = d.at("train_limit");
  p.normalize = normalize_mode(d.at("normalize"));
  if (p.normalize == NormalizeMode::kFixed) {
    p.fixed_normalization = {d.at("mean").get<std::vector<double>>(), d.at("std").get<std::vector<double>>()};
  }
  p.batch_size = d.at("batch_size");
  p.eval_batch_size = d.at("eval_batch_size");
  p.drop_last = d.at("drop_last");
  p.augmentation.random_crop = d.at("random_crop");
  p.augmentation.random_resized_crop = d.at("random_resized_crop");
  p.augmentation.hflip = d.at("hflip");
  const auto jitter = d.at("color_jitter").get<std::vector<double>>();
  p.augmentation.colour_jitter = {jitter.at(0), jitter.at(1), jitter.at(2)};
  p.augmentation.random_erasing = d.at("random_erasing");
  p.augmentation.erasing_scale = number_pair(d.at("random_erasing_scale"));
  p.augmentation.erasing_ratio = number_pair(d.at("random_erasing_ratio"));
  p.progressive_sizes = d.at("progressive_sizes").get<std::vector<int64_t>>();
  return p;
}

ModelPlan model_plan(const json& m) {
  ModelPlan p;
  p.type = m.at("type");
  p.options = m;
  p.task = p.type == kAutoModel ? models::Task::kClassification : models::find_model(p.type).task;
  p.pretrained = m.value("pretrained", std::string());
  return p;
}

train::OptimizerOptions optimizer_options(const json& o) {
  static const std::map<std::string, train::OptimizerType> types = {
      {"sgd", train::OptimizerType::kSgd}, {"adam", train::OptimizerType::kAdam}, {"adamw", train::OptimizerType::kAdamW}};
  train::OptimizerOptions p;
  p.type = types.at(o.at("type"));
  p.lr = o.at("lr");
  p.weight_decay = o.at("weight_decay");
  p.momentum = o.at("momentum");
  p.nesterov = o.at("nesterov");
  std::tie(p.beta1, p.beta2) = number_pair(o.at("betas"));
  p.eps = o.at("eps");
  p.backbone_lr_scale = o.at("backbone_lr_scale");
  p.no_decay_bias_bn = o.at("no_decay_bias_bn");
  return p;
}

train::SchedulerOptions scheduler_options(const json& s) {
  static const std::map<std::string, train::ScheduleType> types = {
      {"none", train::ScheduleType::kNone},       {"step", train::ScheduleType::kStep},
      {"cosine", train::ScheduleType::kCosine},   {"plateau", train::ScheduleType::kPlateau},
      {"onecycle", train::ScheduleType::kOneCycle}};
  train::SchedulerOptions p;
  p.type = types.at(s.at("type"));
  p.per_batch = s.at("interval") == "step";
  p.warmup_epochs = s.at("warmup_epochs");
  p.warmup_start_factor = s.at("warmup_start_factor");
  p.pct_start = s.at("pct_start");
  p.div_factor = s.at("div_factor");
  p.final_div_factor = s.at("final_div_factor");
  p.cycle_momentum = s.at("cycle_momentum");
  p.base_momentum = s.at("base_momentum");
  p.max_momentum = s.at("max_momentum");
  p.step_size = s.at("step_size");
  p.gamma = s.at("gamma");
  p.min_lr = s.at("min_lr");
  p.factor = s.at("factor");
  p.patience = s.at("patience");
  p.monitor = s.at("monitor");
  return p;
}

TrainPlan train_plan(const json& t) {
  TrainPlan p;
  p.epochs = t.at("epochs");
  p.grad_clip = t.at("grad_clip");
  p.label_smoothing = t.at("label_smoothing");
  p.ema_decay = t.at("ema").at("decay");
  p.ema_warmup = t.at("ema").at("warmup");
  const json& es = t.at("early_stopping");
  p.early_stopping_monitor = es.at("monitor");
  p.early_stopping_patience = es.at("patience");
  p.early_stopping_min_delta = es.at("min_delta");
  const json& c = t.at("checkpoint");
  p.checkpoint_monitor = c.at("monitor");
  p.checkpoint.every_epochs = c.at("every");
  p.checkpoint.every_steps = c.at("every_steps");
  p.checkpoint.every_seconds = 60.0 * c.at("every_minutes").get<double>();
  p.log_every = t.at("log_every");
  p.resume_auto = t.at("resume") == "auto";
  return p;
}

eval::TestTimeAugmentation tta_of(const json& tta) {
  const auto has = [&](const char* name) { return std::find(tta.begin(), tta.end(), name) != tta.end(); };
  return {has("hflip"), has("shift")};
}

dist::ReplicaOptions replica_options(const json& d) {
  dist::ReplicaOptions o;
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(d.at("timeout_seconds").get<double>() * 1000));
  o.bucket_bytes = static_cast<int64_t>(d.at("bucket_mb").get<double>() * (1 << 20));
  return o;
}

std::optional<double> optional_number(const json& value) {
  return value.is_number() ? std::optional<double>(value.get<double>()) : std::nullopt;
}

ExpectPlan expect_plan(const json& e) {
  ExpectPlan p;
  p.published = optional_number(e.at("published"));
  p.test_accuracy = optional_number(e.at("test_accuracy"));
  p.minutes_bf16 = optional_number(e.at("minutes").at("bf16"));
  p.minutes_fp32 = optional_number(e.at("minutes").at("fp32"));
  return p;
}

std::optional<bool> channels_last_choice(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  return std::nullopt;  // "auto"
}

// deepl's bf16 is CPU autocast; on a CUDA device it trains in float32.
deepl::Precision cuda_precision(const std::string& precision, std::optional<bool> channels_last) {
  if (precision == "bf16") {
    throw_usage("/train/precision: \"bf16\" is CPU autocast in deepl; on a CUDA device use \"fp32\" or \"auto\"");
  }
  deepl::Precision p;
  p.channels_last = channels_last.value_or(false);
  if (precision == "auto") p.reason = "auto: CUDA device";
  return p;
}

deepl::Precision precision_for(const DeviceChoice& device, const json& t) {
  const std::string asked = t.at("precision");
  const std::optional<bool> channels_last = channels_last_choice(t.at("channels_last"));
  if (!device.device.is_cpu()) return cuda_precision(asked, channels_last);
  const CpuInfo& cpu = cpu_info();
  const deepl::Precision p = resolve_precision(asked, channels_last, cpu);
  if (p.slow_on_this_cpu) {
    spdlog::warn("train.precision \"bf16\" on {} ({}), which has no native bf16: LibTorch's bf16 kernels fall back to "
                 "slow conversions there (measured 16x slower than fp32); \"auto\" picks fp32 on this CPU",
                 cpu.model, cpu.isa_level());
  }
  return p;
}

// A VGG whose pretrained backbone is wholly frozen sees each image the same way every epoch (no
// batch norm, augmentation or test-time views), so its features can be computed once.
bool can_cache_features(const ExperimentPlan& p) {
  const json& m = p.model.options;
  const data::AugmentationOptions& a = p.data.augmentation;
  return p.model.type == "vgg" && m.at("cache_features").get<bool>() && m.at("freeze").get<int>() == -1 &&
         !m.at("batch_norm").get<bool>() && !p.model.pretrained.empty() && a.random_crop == 0 && !a.hflip &&
         a.random_erasing == 0 && p.data.progressive_sizes.empty() && !p.tta.hflip && !p.tta.shift;
}

}  // namespace

train::TrainerOptions ExperimentPlan::trainer_options(int64_t num_classes) const {
  train::TrainerOptions o;
  o.epochs = train.epochs;
  o.grad_clip = train.grad_clip;
  o.label_smoothing = train.label_smoothing;
  o.tta = tta;
  o.ema_decay = train.ema_decay;
  o.ema_warmup = train.ema_warmup;
  o.task = model.task;
  o.num_classes = num_classes;
  o.precision = precision;
  return o;
}

ExperimentPlan plan_experiment(const Experiment& experiment) {
  const json& j = experiment.json;
  ExperimentPlan plan;
  plan.experiment = experiment;
  plan.device = resolve_device(j.at("device"));
  plan.precision = precision_for(plan.device, j.at("train"));
  plan.data = data_plan(j.at("data"));
  plan.model = model_plan(j.at("model"));
  plan.optimizer = optimizer_options(j.at("optimizer"));
  plan.scheduler = scheduler_options(j.at("scheduler"));
  plan.train = train_plan(j.at("train"));
  plan.tta = tta_of(j.at("eval").at("tta"));
  plan.output_dir = j.at("output").at("dir").get<std::string>();
  plan.distributed = replica_options(j.at("distributed"));
  plan.expect = expect_plan(j.at("expect"));
  plan.description = j.value("description", json()).is_string() ? j.at("description").get<std::string>() : "";
  plan.model.cache_features = can_cache_features(plan);
  return plan;
}

}  // namespace deepl::config
