#include "deepl/basics/basics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "deepl/core/schema.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "internal.h"

namespace deepl::basics {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {
double sq(double v) { return v * v; }
}  // namespace

std::vector<std::string> part_names() { return {"linear", "nonlinear", "logistic", "autodiff", "optimize"}; }

LinearFit least_squares(const std::vector<std::vector<double>>& x, const std::vector<double>& y) {
  const torch::Tensor X = torch::cat({to_tensor(x), torch::ones({static_cast<int64_t>(x.size()), 1}, torch::kFloat64)}, 1);
  const torch::Tensor Y = torch::tensor(y, torch::kFloat64).unsqueeze(1);
  const torch::Tensor beta = torch::linalg_solve(X.t().matmul(X), X.t().matmul(Y), /*left=*/true).flatten();
  LinearFit fit;
  fit.coefficients = to_vector(beta.narrow(0, 0, beta.numel() - 1));
  fit.intercept = beta[beta.numel() - 1].item<double>();
  return fit;
}

double r_squared(const std::vector<double>& y, const std::vector<double>& predicted) {
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    ss_res += sq(y[i] - predicted[i]);
    ss_tot += sq(y[i] - mean);
  }
  return ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int64_t>& labels) {
  double positives = 0, negatives = 0, wins = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 1) continue;
    positives += 1;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[j] == 1) continue;
      wins += scores[i] > scores[j] ? 1.0 : (scores[i] == scores[j] ? 0.5 : 0.0);
    }
  }
  for (int64_t l : labels) negatives += l == 1 ? 0 : 1;
  return positives > 0 && negatives > 0 ? wins / (positives * negatives) : 0.5;
}

// ---------------------------------------------------------------- runs

json resolve_config(json raw, const std::string& origin) {
  try {
    if (!raw.is_object()) throw_usage("/: a config is a JSON object");
    if (!raw.contains("part") || !raw["part"].is_string()) throw_usage("/part: required string (one of linear, nonlinear, logistic, autodiff, optimize)");
    const std::string part = raw["part"];
    const auto names = part_names();
    if (std::find(names.begin(), names.end(), part) == names.end()) {
      const std::string hint = closest_match(part, names);
      throw_usage(fmt::format("/part: \"{}\" is not one of {}{}", part, fmt::join(names, ", "),
                              hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)));
    }
    schema::apply_schema(raw, part_fields(part), "");
  } catch (const Error& e) {
    if (origin.empty()) throw;
    throw Error(e.kind(), origin + ": " + e.what());
  }
  return raw;
}

PartResult run_part(const json& cfg, const std::optional<fs::path>& out_dir, const std::optional<CsvSource>& csv) {
  const auto start = std::chrono::steady_clock::now();
  const std::string started = utc_now_iso8601();
  PartResult r;
  r.name = cfg["name"];
  r.part = cfg["part"];
  if (csv && r.part != "linear" && r.part != "logistic") throw_usage("--csv works with the linear and logistic parts");
  r.run_dir = out_dir ? *out_dir : fs::path(cfg["output"]["dir"].get<std::string>()) / r.name;
  ensure_directory(r.run_dir);
  const int threads = configure_threads(cfg["threads"]);
  seed_everything(cfg["seed"]);
  write_json_file(r.run_dir / "config.json", cfg);
  if (r.part == "linear") {
    r.results = run_linear(cfg, r.run_dir, csv, r.summary);
  } else if (r.part == "nonlinear") {
    r.results = run_nonlinear(cfg, r.run_dir, r.summary);
  } else if (r.part == "logistic") {
    r.results = run_logistic(cfg, r.run_dir, csv, r.summary);
  } else if (r.part == "autodiff") {
    r.results = run_autodiff(cfg, r.summary);
  } else {
    r.results = run_optimize(cfg, r.run_dir, r.summary);
  }
  if (csv) r.results["csv"] = {{"file", csv->file.string()}, {"x", csv->x}, {"y", csv->y}};
  write_json_file(r.run_dir / "results.json", r.results);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_json_file(r.run_dir / "manifest.json",
                  {{"name", r.name}, {"part", r.part}, {"status", "finished"}, {"seed", cfg["seed"]}, {"threads", threads},
                   {"deepl_version", deepl_version()}, {"libtorch_version", libtorch_version()}, {"git_commit", git_commit()},
                   {"host", host_name()}, {"started", started}, {"finished", utc_now_iso8601()}, {"wall_seconds", seconds}});
  return r;
}

PartResult run_config_file(const fs::path& file, const std::optional<fs::path>& out_dir, const std::optional<CsvSource>& csv) {
  return run_part(resolve_config(read_json_file(file), file.string()), out_dir, csv);
}

}  // namespace deepl::basics
