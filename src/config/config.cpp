#include "deepl/config/config.h"

#include <fmt/format.h>

#include <algorithm>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/json_util.h"
#include "deepl/models/registry.h"

namespace deepl::config {

using namespace schema;  // the experiment schema is written in its vocabulary

using nlohmann::json;

namespace {

Field bool_or_choice(Field f) {
  f.bool_or_choice = true;
  return f;
}

const std::vector<std::string> kMonitors = {"val_accuracy", "val_loss", "train_accuracy", "train_loss", "val_r2"};

// The `data` section: which data set, its split, batches, normalisation and augmentation.
std::vector<Field> data_fields() {
  return {
      choice("dataset", "mnist", {"mnist", "fashion-mnist", "folder", "idx", "csv"},
             "data set to train on: a registered one, `folder` (pictures in class sub-folders at `path`), `idx` "
             "(the four IDX files below) or `csv` (a table at `path`)"),
      make_field("root", FieldType::kString, "", "where registered data sets live; empty: $DEEPL_DATA, else ./data"),
      make_field("path", FieldType::kString, "",
                 "folder: one sub-folder of pictures per class, or train/ and test/ (and optionally val/) each with "
                 "class sub-folders; csv: the table, a header line of column names then one row per example"),
      ranged(make_field("test_fraction", FieldType::kNumber, 0.2,
                        "folder without test/, csv: fraction of each class held out for the test, chosen by file name "
                        "or line number (the same every run)"), 0.0, 0.9),
      make_field("target", FieldType::kString, "", "csv: the column to learn: class labels, or a quantity"),
      choice("task", "auto", {"auto", "classification", "regression"},
             "csv: what the target is learned as; auto: classification when it is text or at most 50 distinct "
             "integers, else regression (reports r2, rmse, mae)"),
      make_field("features", FieldType::kAny, json::array(),
                 "csv: the feature columns, numbers, standardised with the training rows' mean and std ([]: every "
                 "column but the target)"),
      make_field("image_size", FieldType::kAny, "auto",
                 "folder: [height, width] every picture is brought to, or \"auto\": the most common size"),
      make_field("channels", FieldType::kAny, "auto", "folder: 1 (grayscale), 3 (RGB), or \"auto\": 3 if any picture has colour"),
      choice("resize", "fit", {"fit", "stretch", "crop"},
             "folder: pictures of another size are scaled to fit (aspect kept, black borders), stretched, or scaled "
             "to cover and centre-cropped"),
      choice("on_bad_image", "error", {"error", "skip"},
             "folder: a picture that does not decode stops the run naming it, or is left out with a warning"),
      make_field("cache_dir", FieldType::kString, "",
                 "folder: where decoded pictures are cached; empty: <path>/.deepl-cache, else ~/.cache/deepl"),
      make_field("train_images", FieldType::kString, "", "idx: training images (IDX, raw or gzip)"),
      make_field("train_labels", FieldType::kString, "", "idx: training labels"),
      make_field("test_images", FieldType::kString, "", "idx: test images"),
      make_field("test_labels", FieldType::kString, "", "idx: test labels"),
      make_field("class_names", FieldType::kAny, json::array(), "idx: class names in label order ([]: \"0\"..\"K-1\")"),
      ranged(make_field("val_fraction", FieldType::kNumber, 0.1, "fraction of the training set held out for validation"), 0.0, 0.9),
      make_field("stratified", FieldType::kBool, true, "split validation per class"),
      ranged(make_field("train_limit", FieldType::kInt, 0,
                        "train on the first N examples of the training split (0: all); validation and test stay whole: "
                        "quick looks and sweeps"), 0, 1e9),
      choice("normalize", "train", {"train", "fixed", "none"},
             "pixel normalisation: mean/std of the training split, the fixed `mean`/`std`, or none (x/255)"),
      optional(make_field("mean", FieldType::kNumberList, nullptr, "per-channel mean in [0,1] units (normalize=fixed)")),
      optional(make_field("std", FieldType::kNumberList, nullptr, "per-channel std in [0,1] units (normalize=fixed)")),
      ranged(make_field("batch_size", FieldType::kInt, 64, "training batch size (global, across ranks)"), 1, 1 << 20),
      ranged(make_field("eval_batch_size", FieldType::kInt, 1000, "evaluation batch size"), 1, 1 << 20),
      make_field("drop_last", FieldType::kBool, false, "drop the last partial training batch"),
      ranged(make_field("random_crop", FieldType::kInt, 0, "augmentation: pad by N pixels and crop randomly (0: off)"), 0, 32),
      ranged(make_field("random_resized_crop", FieldType::kNumber, 0.0,
                        "augmentation: torchvision's RandomResizedCrop at the images' own size, with windows of at "
                        "least this fraction of the area (e.g. 0.35; 0: off)"), 0.0, 1.0),
      make_field("hflip", FieldType::kBool, false, "augmentation: random left-right flips"),
      ranged(make_field("color_jitter", FieldType::kNumberList, json::array({0.0, 0.0, 0.0}),
                        "augmentation: torchvision's ColorJitter [brightness, contrast, saturation] strengths, e.g. "
                        "[0.4, 0.4, 0.4] (saturation needs RGB; 0: off)"), 0.0, 10.0),
      ranged(make_field("random_erasing", FieldType::kNumber, 0.0,
                        "augmentation: probability of erasing (zeroing) a random rectangle of an image, as "
                        "torchvision's RandomErasing (0: off)"), 0.0, 1.0),
      ranged(make_field("random_erasing_scale", FieldType::kNumberList, json::array({0.02, 0.33}),
                        "random erasing: range of the rectangle's area, as a fraction of the image's"), 0.0, 1.0),
      ranged(make_field("random_erasing_ratio", FieldType::kNumberList, json::array({0.3, 3.3}),
                        "random erasing: range of the rectangle's aspect ratio (drawn log-uniformly)"), 0.01, 100.0),
      ranged(make_field("progressive_sizes", FieldType::kIntList, json::array(),
                        "progressive resizing: training image sides for equal stages of the epochs, e.g. [20, 24, 28] "
                        "(repeat one for more epochs there; the model must take any size, as resnet does); "
                        "evaluation stays at the images' own size ([]: off)"), 4, 1024),
  };
}

// The `optimizer` section.
std::vector<Field> optimizer_fields() {
  return {
      choice("type", "adam", {"sgd", "adam", "adamw"}, "optimizer"),
      ranged(make_field("lr", FieldType::kNumber, 1e-3, "learning rate"), 1e-12, 100.0),
      ranged(make_field("weight_decay", FieldType::kNumber, 0.0, "L2 penalty (decoupled for adamw)"), 0.0, 10.0),
      ranged(make_field("momentum", FieldType::kNumber, 0.0, "sgd momentum"), 0.0, 0.9999),
      make_field("nesterov", FieldType::kBool, false, "sgd Nesterov momentum"),
      ranged(make_field("betas", FieldType::kNumberList, json::array({0.9, 0.999}), "adam/adamw betas"), 0.0, 0.99999),
      ranged(make_field("eps", FieldType::kNumber, 1e-8, "adam/adamw epsilon"), 0.0, 1.0),
      ranged(make_field("backbone_lr_scale", FieldType::kNumber, 1.0,
                        "lr multiplier of a pretrained backbone's trainable layers (VGG `features.*`)"), 0.0, 100.0),
      make_field("no_decay_bias_bn", FieldType::kBool, false,
                 "no weight decay on biases and batch-norm parameters (every parameter of fewer than 2 dimensions)"),
  };
}

// The `scheduler` section: the learning-rate schedule.
std::vector<Field> scheduler_fields() {
  return {
      choice("type", "none", {"none", "step", "cosine", "plateau", "onecycle"},
             "learning-rate schedule; onecycle: torch.optim.lr_scheduler.OneCycleLR's (max_lr = optimizer.lr), "
             "per batch"),
      choice("interval", "epoch", {"epoch", "step"}, "step, cosine: change the lr once per epoch or after every batch"),
      ranged(make_field("warmup_epochs", FieldType::kNumber, 0.0,
                        "linear warm-up over this many epochs (fractions allowed), per batch, as LinearLR; cosine "
                        "anneals over the rest (SequentialLR(LinearLR, CosineAnnealingLR))"), 0.0, 1e6),
      ranged(make_field("warmup_start_factor", FieldType::kNumber, 0.1, "warm-up: first lr = this x optimizer.lr"),
             1e-6, 1.0),
      ranged(make_field("pct_start", FieldType::kNumber, 0.3, "onecycle: fraction of the steps spent raising the lr"),
             0.01, 0.99),
      ranged(make_field("div_factor", FieldType::kNumber, 25.0, "onecycle: first lr = optimizer.lr / div_factor"), 1.0,
             1e6),
      ranged(make_field("final_div_factor", FieldType::kNumber, 1e4, "onecycle: last lr = first lr / final_div_factor"),
             1.0, 1e9),
      make_field("cycle_momentum", FieldType::kBool, true,
                 "onecycle: cycle the momentum (sgd momentum, adam/adamw first beta) inversely to the lr, from "
                 "max_momentum down to base_momentum and back, as OneCycleLR"),
      ranged(make_field("base_momentum", FieldType::kNumber, 0.85, "onecycle: the momentum at the peak lr"), 0.0,
             0.9999),
      ranged(make_field("max_momentum", FieldType::kNumber, 0.95,
                        "onecycle: the momentum at the cycle's start and end"), 0.0, 0.9999),
      ranged(make_field("step_size", FieldType::kInt, 10, "step: epochs between decays"), 1, 1e6),
      ranged(make_field("gamma", FieldType::kNumber, 0.1, "step: decay factor"), 0.0, 1.0),
      ranged(make_field("min_lr", FieldType::kNumber, 0.0, "cosine/plateau: lower bound of the lr"), 0.0, 100.0),
      ranged(make_field("factor", FieldType::kNumber, 0.1, "plateau: decay factor"), 0.0, 1.0),
      ranged(make_field("patience", FieldType::kInt, 2, "plateau: epochs without improvement before decaying"), 0, 1e6),
      choice("monitor", "val_loss", kMonitors, "plateau: metric watched"),
  };
}

// `train.early_stopping`.
std::vector<Field> early_fields() {
  return {
      choice("monitor", "val_accuracy", kMonitors, "metric watched (a regression watches val_r2 for val_accuracy)"),
      ranged(make_field("patience", FieldType::kInt, 0, "epochs without improvement before stopping (0: off)"), 0, 1e6),
      ranged(make_field("min_delta", FieldType::kNumber, 0.0, "smallest change that counts as improvement"), 0.0, 1e9),
  };
}

// `train.checkpoint`: when last.pt and best.pt are written.
std::vector<Field> checkpoint_fields() {
  return {
      choice("monitor", "val_accuracy", kMonitors,
             "metric that picks best.pt (a regression watches val_r2 for val_accuracy)"),
      ranged(make_field("every", FieldType::kInt, 1, "write last.pt every N epochs (and at the end)"), 1, 1e6),
      ranged(make_field("every_steps", FieldType::kInt, 0,
                        "also write last.pt mid-epoch every N optimizer steps, exact position included (0: off)"),
             0, 1e12),
      ranged(make_field("every_minutes", FieldType::kNumber, 10.0,
                        "also write last.pt mid-epoch when this long has passed since the last write (0: off); "
                        "spaced so that writing stays under 5% of training time"),
             0.0, 1e6),
  };
}

// `train.ema`: the weight average.
std::vector<Field> ema_fields() {
  return {
      ranged(make_field("decay", FieldType::kNumber, 0.0,
                        "keep an exponential moving average of the weights with this decay per step (0: off; e.g. "
                        "0.999), as timm's ModelEmaV3; validation and best.pt use the average"), 0.0, 0.999999),
      make_field("warmup", FieldType::kBool, true, "ema: decay min(decay, 1 - (1 + step)^(-2/3)) while it is young"),
  };
}

// The `train` section: the loop, precision, checkpoints, resume.
std::vector<Field> train_fields() {
  return {
      ranged(make_field("epochs", FieldType::kInt, 10, "training epochs"), 1, 1e6),
      ranged(make_field("grad_clip", FieldType::kNumber, 0.0, "clip the gradient norm to this value (0: off)"), 0.0, 1e9),
      ranged(make_field("label_smoothing", FieldType::kNumber, 0.0,
                        "label smoothing of the training loss, as nn.CrossEntropyLoss(label_smoothing=); validation "
                        "and test losses stay plain cross-entropy"), 0.0, 0.99),
      object("early_stopping", early_fields(), ""),
      object("checkpoint", checkpoint_fields(), ""),
      object("ema", ema_fields(), ""),
      choice("precision", "auto", {"auto", "fp32", "bf16"},
             "bf16 autocast (float32 master weights) or fp32; auto: bf16 where the CPU runs it natively "
             "(AVX512_BF16/AMX), else fp32"),
      bool_or_choice(choice("channels_last", "auto", {"auto"},
                            "channels-last layout for conv models; auto: on with bf16, off with fp32")),
      ranged(make_field("log_every", FieldType::kInt, 0, "plain-log progress line every N batches (0: ~10 per epoch)"), 0, 1e9),
      choice("resume", "never", {"never", "auto"},
             "auto: continue from the run folder's last.pt when there is one (as --resume auto), so the same command "
             "can be run again after a crash or pre-emption"),
  };
}

// The `distributed` section: data-parallel timeouts and buckets.
std::vector<Field> distributed_fields() {
  return {
      ranged(make_field("timeout_seconds", FieldType::kNumber, 300.0,
                        "data-parallel: how long a rank waits for the others before failing"), 1.0, 86400.0),
      ranged(make_field("bucket_mb", FieldType::kNumber, 25.0, "data-parallel: gradient all-reduce bucket size in MB"),
             0.001, 4096.0),
  };
}

// The `eval` section.
std::vector<Field> evaluation_fields() {
  return {
      make_field("tta", FieldType::kAny, json::array(),
                 "test-time augmentation at validation, test evaluation and prediction: the outputs are averaged over "
                 "each image and, with \"hflip\", its mirror image; with \"shift\", the image moved one pixel up, "
                 "down, left and right (edges repeated); with both, 10 views"),
  };
}

// The `output` section.
std::vector<Field> output_fields() {
  return {
      make_field("dir", FieldType::kString, "runs", "where run folders go: <dir>/<name>/"),
  };
}

// `expect.minutes`: the time budgets of `deepl reproduce`.
std::vector<Field> minutes_fields() {
  return {
      optional(ranged(make_field("bf16", FieldType::kNumber, nullptr,
                                 "time budget `deepl reproduce` holds the run to, in minutes from the start of training "
                                 "to the final test evaluation at 2 threads, where precision auto runs bf16 (CPUs with "
                                 "native bf16)"), 0.01, 1e6)),
      optional(ranged(make_field("fp32", FieldType::kNumber, nullptr,
                                 "the same where precision auto runs fp32 (CPUs without native bf16, e.g. AVX2 only)"),
                      0.01, 1e6)),
  };
}

// The `expect` section: what `deepl reproduce` requires.
std::vector<Field> expect_fields() {
  return {
      optional(ranged(make_field("test_accuracy", FieldType::kNumber, nullptr, "test accuracy `deepl reproduce` requires"), 0.0, 1.0)),
      optional(make_field("published", FieldType::kNumber, nullptr, "accuracy the notebook published")),
      object("minutes", minutes_fields(), ""),
  };
}

std::vector<Field> build_fields() {
  Field model = make_field("model", FieldType::kAny, json{{"type", kAutoModel}},
                           "model: `type` plus that type's options (see below); type `auto` (the default) picks one "
                           "for the data when training starts");
  return {
      make_field("name", FieldType::kString, nullptr, "run name: the run folder is <output.dir>/<name>"),
      optional(make_field("description", FieldType::kString, nullptr, "free text")),
      ranged(make_field("seed", FieldType::kInt, 0, "seed of initialisation, split, shuffling, dropout"), 0, 9.0e15),
      ranged(make_field("threads", FieldType::kInt, 0, "LibTorch intra-op threads (0: all cores)"), 0, 1024),
      make_field("device", FieldType::kString, "auto",
                 "cpu, cuda, cuda:N, or auto (CUDA where LibTorch has it and a device is visible, else the CPU)"),
      object("data", data_fields(), ""),
      model,
      object("optimizer", optimizer_fields(), ""),
      object("scheduler", scheduler_fields(), ""),
      object("train", train_fields(), ""),
      object("eval", evaluation_fields(), ""),
      object("distributed", distributed_fields(), ""),
      object("output", output_fields(), ""),
      object("expect", expect_fields(), ""),
  };
}

void resolve_model(json& model) {
  if (!model.is_object()) throw_usage("/model: expected object with a \"type\"");
  if (!model.contains("type") || !model["type"].is_string()) throw_usage("/model/type: required string is missing");
  const std::string type = model["type"];
  std::vector<Field> fields = type == kAutoModel ? std::vector<Field>{} : models::find_model(type).fields;
  fields.insert(fields.begin(), make_field("type", FieldType::kString, nullptr, "model type"));
  apply_schema(model, fields, "/model");
}

void check_image_size(const json& size) {
  if (size == "auto") return;
  const bool pair = size.is_array() && size.size() == 2 &&
                    std::all_of(size.begin(), size.end(), [](const json& v) { return v.is_number_integer() && v >= 1 && v <= 4096; });
  if (!pair) throw_usage("/data/image_size: expected \"auto\" or [height, width] with sides 1..4096, got " + size.dump());
}

void check_data_source(const json& data) {
  const std::string dataset = data["dataset"];
  check_image_size(data["image_size"]);
  if (const auto& c = data["channels"]; c != "auto" && c != 1 && c != 3) {
    throw_usage("/data/channels: expected \"auto\", 1 or 3, got " + c.dump());
  }
  const auto& names = data["class_names"];
  if (!names.is_array() || !std::all_of(names.begin(), names.end(), [](const json& v) { return v.is_string(); })) {
    throw_usage("/data/class_names: expected a list of strings");
  }
  if (dataset == "folder" && data["path"] == "") throw_usage("/data/path: data.dataset \"folder\" needs the folder's path");
  if (dataset == "csv" && data["path"] == "") throw_usage("/data/path: data.dataset \"csv\" needs the table's path");
  if (dataset == "csv" && data["target"] == "") {
    throw_usage("/data/target: data.dataset \"csv\" needs the label column's name (with --data: --target COLUMN)");
  }
  if (dataset != "csv" && data["task"] != "auto") {
    throw_usage("/data/task: only a csv table can be learned as a regression; pictures are classified");
  }
  const auto& features = data["features"];
  if (!features.is_array() || !std::all_of(features.begin(), features.end(), [](const json& v) { return v.is_string(); })) {
    throw_usage("/data/features: expected a list of column names");
  }
  if (dataset == "idx") {
    for (const char* key : {"train_images", "train_labels", "test_images", "test_labels"}) {
      if (data[key] == "") throw_usage(fmt::format("/data/{}: data.dataset \"idx\" needs its four files", key));
    }
  }
}

void check_consistency(const json& cfg) {
  const auto& data = cfg["data"];
  check_data_source(data);
  if (data["normalize"] == "fixed" && (data["mean"].is_null() || data["std"].is_null())) {
    throw_usage("/data/normalize: \"fixed\" needs /data/mean and /data/std");
  }
  if (!data["std"].is_null()) {
    for (const auto& s : data["std"])
      if (s.get<double>() <= 0) throw_usage("/data/std: every value must be positive");
  }
  if (data["val_fraction"].get<double>() == 0.0) {
    for (const char* section : {"early_stopping", "checkpoint"}) {
      const std::string monitor = cfg["train"][section]["monitor"];
      if (monitor.rfind("val_", 0) == 0 && (std::string(section) == "checkpoint" || cfg["train"][section]["patience"] > 0)) {
        throw_usage(fmt::format("/train/{}/monitor: \"{}\" needs a validation split (data.val_fraction > 0)", section, monitor));
      }
    }
  }
  if (cfg["optimizer"]["betas"].size() != 2) throw_usage("/optimizer/betas: expected 2 numbers");
  if (data["color_jitter"].size() != 3) throw_usage("/data/color_jitter: expected [brightness, contrast, saturation]");
  for (const char* key : {"random_erasing_scale", "random_erasing_ratio"}) {
    const auto& range = data[key];
    if (range.size() != 2 || range[0].get<double>() > range[1].get<double>()) {
      throw_usage(fmt::format("/data/{}: expected [low, high] with low <= high", key));
    }
  }
  const auto& tta = cfg["eval"]["tta"];
  if (!tta.is_array()) throw_usage("/eval/tta: expected a list, e.g. [\"hflip\"]");
  for (const auto& t : tta) {
    if (t != "hflip" && t != "shift") {
      throw_usage(fmt::format("/eval/tta: unknown augmentation {} (known: \"hflip\", \"shift\")", t.dump()));
    }
  }
  const auto& scheduler = cfg["scheduler"];
  if (scheduler["type"] == "plateau" && scheduler["interval"] == "step") {
    throw_usage("/scheduler/interval: plateau reacts to epoch metrics; it cannot be stepped per batch");
  }
  if (scheduler["type"] == "onecycle" && scheduler["warmup_epochs"].get<double>() > 0) {
    throw_usage("/scheduler/warmup_epochs: onecycle warms up by itself (scheduler.pct_start)");
  }
  if (cfg["train"]["label_smoothing"].get<double>() > 0 && cfg["model"]["type"] != kAutoModel &&
      models::find_model(cfg["model"]["type"]).task != models::Task::kClassification) {
    throw_usage(fmt::format("/train/label_smoothing: applies to classification; model \"{}\" is not a classifier",
                            cfg["model"]["type"].get<std::string>()));
  }
  resolve_device(cfg["device"]);
}

}  // namespace

const std::vector<std::string>& monitor_names() { return kMonitors; }

const std::vector<Field>& experiment_fields() {
  static const std::vector<Field> fields = build_fields();
  return fields;
}

void apply_override(json& raw, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw_usage("--set " + assignment + ": expected key.path=value");
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text;
  }
  json* node = &raw;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw_usage("--set " + assignment + ": empty key in the path");
    if (!node->is_object()) throw_usage("--set " + assignment + ": \"" + key + "\" is not inside an object");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    node = &(*node)[key];
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
}

Experiment resolve_experiment(json raw, const std::vector<std::string>& overrides, const std::string& origin) {
  try {
    for (const auto& o : overrides) apply_override(raw, o);
    if (!raw.is_object()) throw_usage("/: an experiment is a JSON object");
    json model = raw.contains("model") && !raw["model"].is_null() ? raw["model"] : json{{"type", kAutoModel}};
    apply_schema(raw, experiment_fields(), "");
    resolve_model(model);
    raw["model"] = model;
    check_consistency(raw);
  } catch (const Error& e) {
    if (origin.empty()) throw;
    throw Error(e.kind(), origin + ": " + e.what());
  }
  Experiment exp;
  exp.json = raw;
  exp.name = raw["name"].get<std::string>();
  exp.seed = raw["seed"].get<uint64_t>();
  exp.threads = raw["threads"].get<int>();
  if (exp.name.empty() || exp.name.find('/') != std::string::npos || exp.name == "." || exp.name == "..") {
    throw_usage((origin.empty() ? "" : origin + ": ") + "/name: must be a non-empty folder name without '/'");
  }
  return exp;
}

Experiment load_experiment(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  return resolve_experiment(read_json_file(path), overrides, path.string());
}

namespace {

// The file in `dir` whose name holds `split` and `kind` ("train", "images"), as MNIST's do.
std::string idx_file(const std::filesystem::path& dir, const std::vector<std::string>& splits, const std::string& kind) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& split : splits) {
    for (const auto& name : names) {
      if (name.find(split + "-" + kind) != std::string::npos) return (dir / name).string();
    }
  }
  return "";
}

std::string run_name_for(const std::filesystem::path& path) {
  std::string name = path.lexically_normal().filename().string();
  if (name.empty() || name == "." || name == "..") name = std::filesystem::absolute(path).lexically_normal().filename().string();
  return name.empty() || name == "/" ? "data" : name;
}

}  // namespace

json config_for_data(const std::filesystem::path& path, const std::string& model_type, const std::string& target) {
  if (path.extension() == ".csv" || path.extension() == ".CSV") {
    json data = {{"dataset", "csv"}, {"path", path.string()}, {"target", target}};
    return {{"name", path.stem().string()}, {"data", data}, {"model", {{"type", model_type}}}};
  }
  if (!std::filesystem::is_directory(path)) {
    throw_usage(fmt::format("--data {}: expected a folder of pictures in class sub-folders, a folder with IDX "
                            "files (train-images, train-labels, t10k-images, t10k-labels), or a .csv table",
                            path.string()));
  }
  json data = {{"path", path.string()}, {"dataset", "folder"}};
  const std::string train_images = idx_file(path, {"train"}, "images");
  if (!train_images.empty()) {
    data = {{"dataset", "idx"},
            {"train_images", train_images},
            {"train_labels", idx_file(path, {"train"}, "labels")},
            {"test_images", idx_file(path, {"t10k", "test"}, "images")},
            {"test_labels", idx_file(path, {"t10k", "test"}, "labels")}};
  }
  return {{"name", run_name_for(path)}, {"data", data}, {"model", {{"type", model_type}}}};
}

std::string reference_markdown() {
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  out += schema_markdown_rows(experiment_fields(), "");
  for (const auto& type : models::model_types()) {
    const auto& entry = models::find_model(type);
    out += fmt::format("| `model.type` = `{}` | | | {} |\n", type, entry.doc);
    out += schema_markdown_rows(entry.fields, "model");
  }
  return out;
}

}  // namespace deepl::config
