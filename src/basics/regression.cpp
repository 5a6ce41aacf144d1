// Notebook 1, regression: a linear layer against least squares, a ReLU MLP on a curve, logistic regression.
#include "internal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "deepl/io/csv_reader.h"
#include "deepl/core/files.h"
#include "deepl/eval/metrics.h"
#include "deepl/run/reports.h"

namespace deepl::basics::detail {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------- linear regression

namespace {

struct RegressionData {
  torch::Tensor x, y;  // float64 [n, d], [n]
  std::vector<std::string> x_names;
  std::string y_name = "y";
  std::optional<LinearFit> truth;
};

RegressionData linear_data(const json& cfg, const std::optional<CsvSource>& csv) {
  RegressionData d;
  if (csv) {
    const io::CsvTable table = io::read_csv(csv->file);
    const auto origin = csv->file.string();
    d.x = to_tensor(io::select_columns(table, csv->x, origin));
    std::vector<std::vector<double>> y = io::select_columns(table, {csv->y}, origin);
    d.y = to_tensor(y).flatten();
    d.x_names = csv->x;
    d.y_name = csv->y;
    return d;
  }
  const json& data = cfg["data"];
  const auto coefficients = data["coefficients"].get<std::vector<double>>();
  if (coefficients.empty()) throw_usage("/data/coefficients: at least one coefficient");
  const auto [lo, hi] = range_of(data["x_range"], "/data/x_range");
  const int64_t n = data["n"], dims = static_cast<int64_t>(coefficients.size());
  auto gen = generator(cfg["seed"], 1);
  d.x = torch::rand({n, dims}, gen, torch::kFloat64) * (hi - lo) + lo;
  d.y = torch::matmul(d.x, torch::tensor(coefficients, torch::kFloat64)) + data["intercept"].get<double>() +
        torch::randn({n}, gen, torch::kFloat64) * data["noise"].get<double>();
  for (int64_t j = 0; j < dims; ++j) d.x_names.push_back(fmt::format("x{}", j + 1));
  d.truth = LinearFit{coefficients, data["intercept"]};
  return d;
}

}  // namespace

json run_linear(const json& cfg, const fs::path& dir, const std::optional<CsvSource>& csv, std::string& summary) {
  RegressionData d = linear_data(cfg, csv);
  const int64_t dims = d.x.size(1);
  // Train on standardised inputs and target (any CSV's scale converges), then map back.
  const Standardised xs = standardise(d.x), ys = standardise(d.y.unsqueeze(1));
  torch::nn::Linear layer(dims, 1);
  layer->to(torch::kFloat64);
  const json& t = cfg["train"];
  const double loss = fit_full_batch(*layer, [&](const torch::Tensor& x) { return layer->forward(x); }, xs.values, ys.values,
                                     t["epochs"], t["lr"], t["optimizer"] == "adam",
                                     [](const torch::Tensor& p, const torch::Tensor& y) { return torch::mse_loss(p, y); });
  const torch::Tensor w = layer->weight.detach().flatten() * ys.std.flatten() / xs.std.flatten();
  const double b = (ys.mean.flatten()[0] + ys.std.flatten()[0] * layer->bias.detach()[0] - (w * xs.mean.flatten()).sum()).item<double>();
  LinearFit fitted{to_vector(w), b};
  const torch::Tensor x_rows = d.x;
  std::vector<std::vector<double>> rows;
  for (int64_t i = 0; i < x_rows.size(0); ++i) rows.push_back(to_vector(x_rows[i]));
  const LinearFit exact = least_squares(rows, to_vector(d.y));
  const torch::Tensor predicted = torch::matmul(d.x, w) + b;
  const double mse = (predicted - d.y).pow(2).mean().item<double>();
  const double r2 = r_squared(to_vector(d.y), to_vector(predicted));
  double max_gap = std::abs(fitted.intercept - exact.intercept);
  for (size_t j = 0; j < fitted.coefficients.size(); ++j)
    max_gap = std::max(max_gap, std::abs(fitted.coefficients[j] - exact.coefficients[j]));
  json results = {{"inputs", d.x_names},
                  {"target", d.y_name},
                  {"n", d.x.size(0)},
                  {"fitted", {{"coefficients", fitted.coefficients}, {"intercept", fitted.intercept}}},
                  {"least_squares", {{"coefficients", exact.coefficients}, {"intercept", exact.intercept}}},
                  {"max_abs_difference_to_least_squares", max_gap},
                  {"mse", mse},
                  {"r2", r2},
                  {"final_standardised_loss", loss}};
  if (d.truth) results["truth"] = {{"coefficients", d.truth->coefficients}, {"intercept", d.truth->intercept}};
  if (dims == 1) {
    const auto xv = to_vector(d.x), yv = to_vector(d.y);
    const double lo = *std::min_element(xv.begin(), xv.end()), hi = *std::max_element(xv.begin(), xv.end());
    report::write_charts_png(dir / "fit.png",
                             {{fmt::format("Linear regression: y = {:.3f} x + {:.3f} (R² {:.3f})", fitted.coefficients[0], fitted.intercept, r2),
                               d.x_names[0], d.y_name,
                               {series("data", xv, yv, 0x1f77b4, true),
                                series("fitted line", {lo, hi}, {fitted.coefficients[0] * lo + b, fitted.coefficients[0] * hi + b}, 0xd62728, false)}}});
  }
  std::string coefs;
  for (size_t j = 0; j < fitted.coefficients.size(); ++j) coefs += fmt::format("{}={:.4f} ", d.x_names[j], fitted.coefficients[j]);
  summary = fmt::format("{}intercept={:.4f} (least squares within {:.1e}), R² {:.4f}", coefs, fitted.intercept, max_gap, r2);
  return results;
}

// ---------------------------------------------------------------- non-linear regression

namespace {

torch::Tensor true_curve(const std::string& f, const torch::Tensor& x) {
  if (f == "sin") return torch::sin(x);
  if (f == "square") return x * x;
  if (f == "cubic") return x * x * x / 3.0 - x;
  return torch::abs(x);
}

}  // namespace

json run_nonlinear(const json& cfg, const fs::path& dir, std::string& summary) {
  const json& data = cfg["data"];
  const auto [lo, hi] = range_of(data["x_range"], "/data/x_range");
  auto gen = generator(cfg["seed"], 2);
  const int64_t n = data["n"];
  const torch::Tensor x = torch::rand({n, 1}, gen, torch::kFloat64) * (hi - lo) + lo;
  const torch::Tensor truth = true_curve(data["function"], x);
  const torch::Tensor y = truth + torch::randn({n, 1}, gen, torch::kFloat64) * data["noise"].get<double>();

  torch::manual_seed(cfg["seed"].get<uint64_t>());
  torch::nn::Sequential mlp;
  int64_t width = 1;
  for (int64_t h : cfg["model"]["hidden"].get<std::vector<int64_t>>()) {
    mlp->push_back(torch::nn::Linear(width, h));
    if (cfg["model"]["activation"] == "tanh") {
      mlp->push_back(torch::nn::Tanh());
    } else {
      mlp->push_back(torch::nn::ReLU());
    }
    width = h;
  }
  mlp->push_back(torch::nn::Linear(width, 1));
  mlp->to(torch::kFloat64);
  const json& t = cfg["train"];
  auto mse = [](const torch::Tensor& p, const torch::Tensor& target) { return torch::mse_loss(p, target); };
  fit_full_batch(*mlp, [&](const torch::Tensor& in) { return mlp->forward(in); }, x, y, t["epochs"], t["lr"], true, mse);
  torch::nn::Linear line(1, 1);
  line->to(torch::kFloat64);
  fit_full_batch(*line, [&](const torch::Tensor& in) { return line->forward(in); }, x, y, t["epochs"], t["lr"], true, mse);

  torch::NoGradGuard no_grad;
  const auto yv = to_vector(y);
  const double r2_mlp = r_squared(yv, to_vector(mlp->forward(x)));
  const double r2_linear = r_squared(yv, to_vector(line->forward(x)));
  const torch::Tensor grid = torch::linspace(lo, hi, 200, torch::kFloat64).unsqueeze(1);
  const auto gx = to_vector(grid);
  report::write_charts_png(dir / "fit.png", {{fmt::format("y = {}(x) + noise: MLP R² {:.3f}, linear R² {:.3f}",
                                                          data["function"].get<std::string>(), r2_mlp, r2_linear),
                                              "x", "y",
                                              {series("data", to_vector(x), yv, 0x1f77b4, true),
                                               series("truth", gx, to_vector(true_curve(data["function"], grid)), 0x2ca02c, false),
                                               series("ReLU MLP", gx, to_vector(mlp->forward(grid)), 0xd62728, false),
                                               series("linear layer", gx, to_vector(line->forward(grid)), 0x7f7f7f, false)}}});
  summary = fmt::format("{}(x): MLP R² {:.4f} vs linear R² {:.4f}", data["function"].get<std::string>(), r2_mlp, r2_linear);
  return {{"function", data["function"]}, {"n", n}, {"r2_mlp", r2_mlp}, {"r2_linear", r2_linear},
          {"hidden", cfg["model"]["hidden"]}};
}

// ---------------------------------------------------------------- logistic regression

json run_logistic(const json& cfg, const fs::path& dir, const std::optional<CsvSource>& csv, std::string& summary) {
  torch::Tensor x, labels;
  std::vector<std::string> names = {"x1", "x2"};
  if (csv) {
    const io::CsvTable table = io::read_csv(csv->file);
    x = to_tensor(io::select_columns(table, csv->x, csv->file.string()));
    labels = to_tensor(io::select_columns(table, {csv->y}, csv->file.string())).flatten();
    if (!torch::all((labels == 0) | (labels == 1)).item<bool>()) {
      throw_data(csv->file.string() + ": column \"" + csv->y + "\" must hold only 0 and 1");
    }
    labels = labels.to(torch::kInt64);
    names = csv->x;
  } else {
    const json& data = cfg["data"];
    const json& means = data["means"];
    if (!means.is_array() || means.size() != 2 || means[0].size() != 2 || means[1].size() != 2) {
      throw_usage("/data/means: expected two 2-D points [[x, y], [x, y]]");
    }
    const int64_t n = data["n_per_class"];
    auto gen = generator(cfg["seed"], 3);
    std::vector<torch::Tensor> parts;
    for (int c = 0; c < 2; ++c) {
      const torch::Tensor centre = torch::tensor(means[c].get<std::vector<double>>(), torch::kFloat64);
      parts.push_back(torch::randn({n, 2}, gen, torch::kFloat64) * data["std"].get<double>() + centre);
    }
    x = torch::cat(parts);
    labels = torch::cat({torch::zeros({n}, torch::kInt64), torch::ones({n}, torch::kInt64)});
  }
  torch::manual_seed(cfg["seed"].get<uint64_t>());
  torch::nn::Linear layer(x.size(1), 1);
  layer->to(torch::kFloat64);
  const json& t = cfg["train"];
  fit_full_batch(*layer, [&](const torch::Tensor& in) { return layer->forward(in).squeeze(1); }, x,
                 labels.to(torch::kFloat64), t["epochs"], t["lr"], true,
                 [](const torch::Tensor& logits, const torch::Tensor& y) {
                   return torch::binary_cross_entropy_with_logits(logits, y);
                 });
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = layer->forward(x).squeeze(1);
  const torch::Tensor predicted = (logits > 0).to(torch::kInt64);
  torch::Tensor confusion = torch::zeros({2, 2}, torch::kInt64);
  eval::accumulate_confusion(confusion, labels, predicted);
  const eval::Metrics m = eval::metrics_from_confusion(confusion, 0.0);
  const std::vector<int64_t> label_vec(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel());
  const double auc = roc_auc(to_vector(logits), label_vec);
  const std::vector<std::string> classes = {"class 0", "class 1"};
  write_file_atomic(dir / "confusion_matrix.csv", eval::confusion_to_csv(confusion, classes));
  const torch::Tensor cm = confusion.flatten();
  report::write_confusion_matrix_png(dir / "confusion_matrix.png", std::vector<int64_t>(cm.data_ptr<int64_t>(), cm.data_ptr<int64_t>() + 4),
                                     classes, fmt::format("logistic regression (accuracy {:.3f})", m.accuracy));
  const auto w = to_vector(layer->weight.flatten());
  const double b = layer->bias[0].item<double>();
  if (x.size(1) == 2) {
    std::vector<double> x0[2], x1[2];
    for (int64_t i = 0; i < x.size(0); ++i) {
      const auto c = static_cast<size_t>(label_vec[static_cast<size_t>(i)]);
      x0[c].push_back(x[i][0].item<double>());
      x1[c].push_back(x[i][1].item<double>());
    }
    const double lo = x.select(1, 0).min().item<double>(), hi = x.select(1, 0).max().item<double>();
    std::vector<report::Series> s = {series("class 0", x0[0], x1[0], 0x1f77b4, true),
                                     series("class 1", x0[1], x1[1], 0xff7f0e, true)};
    if (std::abs(w[1]) > 1e-12) {
      s.push_back(series("boundary p = 0.5", {lo, hi}, {-(w[0] * lo + b) / w[1], -(w[0] * hi + b) / w[1]}, 0x000000, false));
    }
    report::write_charts_png(dir / "decision_boundary.png",
                             {{fmt::format("Logistic regression: accuracy {:.3f}, ROC AUC {:.3f}", m.accuracy, auc), names[0], names[1], s}});
  }
  summary = fmt::format("accuracy {:.4f}, ROC AUC {:.4f}", m.accuracy, auc);
  return {{"n", x.size(0)}, {"accuracy", m.accuracy}, {"roc_auc", auc}, {"weights", w}, {"bias", b},
          {"confusion_matrix", run::metrics_to_json(m, classes)["confusion_matrix"]}};
}

}  // namespace deepl::basics::detail
