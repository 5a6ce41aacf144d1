// deepl's side of the benchmark: steady-state training and evaluation throughput of a shipped
// experiment's model, the data pipeline's share, peak RSS and the fraction of the machine's dense
// compute rate. bench/run.py runs it interleaved with bench/reference.py (Python PyTorch).
//   build/bench/deepl_bench --config experiments/cnn_mnist.json --threads 2 [--precision auto|bf16 --channels-last]
//   build/bench/deepl_bench --peak --threads 2       (GEMM and convolution rate)
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <chrono>
#include <optional>
#include <nlohmann/json.hpp>

#include "deepl/config/config.h"
#include "deepl/config/plan.h"
#include "deepl/core/cpu.h"
#include "deepl/core/runtime.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"
#include "deepl/data/sources.h"
#include "deepl/eval/inference.h"
#include "deepl/eval/metrics.h"
#include "deepl/models/registry.h"
#include "deepl/models/summary.h"
#include "deepl/models/vgg.h"
#include "deepl/train/fused_adam.h"
#include "deepl/train/optim.h"
#include "deepl/train/trainer.h"

namespace {

using nlohmann::json;
using deepl::data::BatchLoader;

// Every result names the machine and LibTorch it was measured with.
void print_result(json j, int threads) {
  const deepl::CpuInfo& cpu = deepl::cpu_info();
  j["threads"] = threads;
  j["cpu"] = {{"model", cpu.model}, {"isa_level", cpu.isa_level()}, {"native_bf16", cpu.native_bf16()}};
  j["libtorch_version"] = deepl::libtorch_version();
  fmt::print("{}\n", j.dump());
}

std::string precision_label(const deepl::Precision& p) {
  return std::string(p.bf16 ? "bf16" : "fp32") + (p.channels_last ? "+cl" : "");
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

template <typename Fn>
double best_rate(double work, Fn&& fn) {
  fn();  // warm-up
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t = std::chrono::steady_clock::now();
    fn();
    best = std::max(best, work / seconds_since(t));
  }
  return best;
}

json measure_peak() {
  torch::NoGradGuard no_grad;
  const int64_t n = 2048;
  const torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  const double gemm = best_rate(2.0 * n * n * n, [&] { torch::mm(a, b); });
  const torch::Tensor x = torch::randn({64, 32, 26, 26}), w = torch::randn({32, 32, 3, 3});
  const double conv = best_rate(2.0 * 64 * 32 * 9 * 32 * 24 * 24, [&] { torch::conv2d(x, w); });
  const torch::Tensor xb = x.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  const torch::Tensor wb = w.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  const double conv_bf16 = best_rate(2.0 * 64 * 32 * 9 * 32 * 24 * 24, [&] { torch::conv2d(xb, wb); });
  return {{"gemm_fp32_gflops", gemm / 1e9}, {"conv_fp32_gflops", conv / 1e9}, {"conv_bf16_cl_gflops", conv_bf16 / 1e9}};
}

// VGG16 images/s at one input size: inference (deepl's InferencePlan), and a training step
// (forward + backward + deepl's fused Adam) with the backbone frozen or not.
json measure_vgg(int64_t size, int64_t batch, const deepl::Precision& precision) {
  using namespace deepl;
  json out = {{"model", "vgg16"}, {"input_size", size}, {"batch", batch}, {"precision", precision_label(precision)}};
  for (const bool frozen : {false, true}) {
    // The head of experiments/fashion_vgg16.json: 256 hidden units, 10 classes.
    auto vgg = std::make_shared<models::VggImpl>(
        models::VggOptions(16).num_classes(10).hidden({256}).adapt_input_size(size));
    if (frozen) vgg->freeze_features(-1);
    if (precision.channels_last) deepl::to_channels_last(*vgg);
    std::vector<torch::Tensor> trainable;
    for (const auto& p : vgg->parameters())
      if (p.requires_grad()) trainable.push_back(p);
    train::FusedAdam adam(trainable, torch::optim::AdamOptions(1e-4));
    const torch::Tensor x = precision.prepare(torch::rand({batch, 1, 28, 28}));
    const torch::Tensor y = torch::randint(0, 10, {batch}, torch::kInt64);
    const double step = best_rate(static_cast<double>(batch), [&] {
      for (auto& p : trainable) p.mutable_grad() = torch::Tensor();
      torch::Tensor out;
      {
        deepl::AutocastGuard autocast(precision.bf16);
        out = vgg->forward(x);
      }
      torch::nn::functional::cross_entropy(out.to(torch::kFloat32), y).backward();
      adam.step();
    });
    out[frozen ? "train_frozen_images_per_s" : "train_images_per_s"] = step;
    if (!frozen) continue;
    torch::InferenceMode guard;
    vgg->eval();
    const eval::InferencePlan plan(*vgg, precision);
    out["forward_images_per_s"] = best_rate(static_cast<double>(batch), [&] { plan.forward(x); });
  }
  return out;
}

// Milliseconds per optimizer step over `params` (random gradients): LibTorch's Adam against
// deepl's fused one, interleaved.
json measure_adam(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> a, b;
  for (const auto& p : params) {
    for (auto* copies : {&a, &b}) {
      copies->push_back(p.detach().clone().requires_grad_(true));
      copies->back().mutable_grad() = torch::randn_like(p);
    }
  }
  torch::optim::Adam libtorch(a, torch::optim::AdamOptions(1e-3));
  deepl::train::FusedAdam fused(b, torch::optim::AdamOptions(1e-3));
  const auto ms_per_step = [](torch::optim::Optimizer& opt) {
    return 1e3 / best_rate(20.0, [&] {
             for (int i = 0; i < 20; ++i) opt.step();
           });
  };
  int64_t count = 0;
  for (const auto& p : params) count += p.numel();
  return {{"parameters", count}, {"adam_libtorch_ms", ms_per_step(libtorch)}, {"adam_fused_ms", ms_per_step(fused)}};
}

// Forward FLOPs plus backward from the first layer with trainable parameters on (input and
// weight gradients, 2x that layer's forward): a frozen backbone only runs forward.
int64_t training_flops(deepl::models::NetworkImpl& net, const deepl::models::ModelSummary& summary) {
  const auto trainable = [&](const std::string& layer) {
    for (const auto& p : net.named_parameters())
      if (p.value().requires_grad() && p.key().rfind(layer + ".", 0) == 0) return true;
    return false;
  };
  int64_t flops = summary.flops;
  bool backward = false;
  for (const auto& layer : summary.layers) {
    backward = backward || trainable(layer.name);
    if (backward) flops += 2 * layer.flops;
  }
  return flops;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"deepl benchmark: one model's training/evaluation throughput, as one JSON line"};
  std::string config_path, precision = "fp32";
  int threads = 2;
  int64_t steps = 200, warmup = 20, eval_examples = 10000, train_examples = 0, batch = 0;
  bool channels_last = false, peak = false, adam = false;
  int64_t vgg_size = 0;
  std::string profile_path;
  std::vector<std::string> overrides;
  app.add_option("--config", config_path, "experiment config");
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--steps", steps, "timed training steps");
  app.add_option("--warmup", warmup, "untimed training steps first");
  app.add_option("--eval-examples", eval_examples, "examples evaluated");
  app.add_option("--train-examples", train_examples, "time one whole epoch over this many examples instead of --steps");
  app.add_option("--batch", batch, "batch size (default: the config's)");
  app.add_option("--precision", precision, "fp32, bf16, or auto (bf16 where the CPU runs it natively)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  app.add_flag("--channels-last", channels_last, "channels-last layout (default: off, or as auto decides with --precision auto)");
  app.add_flag("--peak", peak, "measure the dense GEMM / convolution rate instead");
  app.add_flag("--adam", adam, "measure one Adam step over the config's model, LibTorch's against the fused one");
  app.add_option("--vgg", vgg_size, "measure VGG16 images/s at this input size instead (batch: --batch, default 16)");
  app.add_option("--set", overrides, "override a config key, as in deepl train (repeatable)");
  app.add_option("--profile", profile_path, "write LibTorch profiler traces (chrome://tracing) of the timed training steps (FILE) and evaluation (FILE.eval)");
  CLI11_PARSE(app, argc, argv);
  deepl::configure_threads(threads);
  const std::optional<bool> layout =
      channels_last ? std::optional<bool>(true) : precision == "auto" ? std::nullopt : std::optional<bool>(false);
  const deepl::Precision prec = deepl::resolve_precision(precision, layout, deepl::cpu_info());
  if (peak) {
    print_result(measure_peak(), threads);
    return 0;
  }
  if (vgg_size > 0) {
    print_result(measure_vgg(vgg_size, batch > 0 ? batch : 16, prec), threads);
    return 0;
  }
  using namespace deepl;
  const auto exp = config::load_experiment(config_path, overrides);
  const json& d = exp.json["data"];
  if (batch <= 0) batch = d["batch_size"];
  seed_everything(0);
  const data::Dataset dataset = data::load_split(config::plan_experiment(exp).data.source, data::Split::kTrain);
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = true;
  if (d["normalize"] != "none") lo.normalization = data::compute_normalization(dataset);
  const auto shape = dataset.image_shape();
  const models::InputSpec spec{shape[0], shape[1], shape[2], dataset.num_classes()};
  auto model = models::build_model(exp.json["model"], spec);
  if (adam) {
    json j = measure_adam(model->parameters());
    j["model"] = exp.name;
    print_result(j, threads);
    return 0;
  }
  if (prec.channels_last) deepl::to_channels_last(*model);
  auto optimizer = train::make_optimizer(config::plan_experiment(exp).optimizer, model->parameters());
  train::TrainerOptions to;
  to.epochs = 1;
  to.task = models::find_model(exp.json["model"]["type"]).task;
  to.precision = prec;

  auto fit_on = [&](int64_t examples) {
    BatchLoader loader(dataset, torch::arange(std::min(examples, dataset.size()), torch::kInt64), lo);
    train::Trainer trainer(model, optimizer, nullptr, to);
    const auto t = std::chrono::steady_clock::now();
    trainer.fit(loader, nullptr);
    return std::make_pair(seconds_since(t), loader.num_examples());
  };
  fit_on(warmup * batch);
  std::optional<torch::autograd::profiler::RecordProfile> profiler;
  if (!profile_path.empty()) profiler.emplace(profile_path);
  const auto [train_seconds, trained] = fit_on(train_examples > 0 ? train_examples : steps * batch);
  profiler.reset();

  BatchLoader pipeline(dataset, torch::arange(std::min(steps * batch, dataset.size()), torch::kInt64), lo);
  auto t = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < pipeline.num_batches(); ++i) pipeline.batch(i);
  const double data_seconds = seconds_since(t) * static_cast<double>(trained) / static_cast<double>(pipeline.num_examples());

  data::LoaderOptions eo = lo;
  eo.batch_size = d["eval_batch_size"];
  eo.shuffle = false;
  const BatchLoader eval_loader(dataset, torch::arange(std::min(eval_examples, dataset.size()), torch::kInt64), eo);
  if (!profile_path.empty()) profiler.emplace(profile_path + ".eval");
  t = std::chrono::steady_clock::now();
  eval::evaluate(*model, to.task, eval_loader, dataset.num_classes(), prec);
  const double eval_seconds = seconds_since(t);
  profiler.reset();

  const auto summary = models::summarize(*model, shape);
  const int64_t train_flops = training_flops(*model, summary);
  const double train_rate = static_cast<double>(trained) / train_seconds;
  const double epoch_examples = static_cast<double>(dataset.size()) * (1.0 - d["val_fraction"].get<double>());
  const json result = {
      {"impl", "deepl"},
      {"model", exp.name},
      {"precision", precision_label(prec)},
      {"batch", batch},
      {"train_examples_per_s", train_rate},
      {"eval_examples_per_s", static_cast<double>(eval_loader.num_examples()) / eval_seconds},
      {"epoch_seconds", train_examples > 0 ? train_seconds : epoch_examples / train_rate},
      {"data_fraction", data_seconds / train_seconds},
      {"peak_rss_mb", peak_rss_mb()},
      {"train_flops_per_example", train_flops},
      {"train_gflops_per_s", static_cast<double>(train_flops) * train_rate / 1e9},
  };
  print_result(result, threads);
  return 0;
}
