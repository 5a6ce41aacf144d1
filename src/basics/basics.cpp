#include "deepl/basics/basics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "deepl/basics/csv.h"
#include "deepl/config/schema.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/eval/metrics.h"
#include "deepl/report/plot.h"

namespace deepl::basics {

namespace fs = std::filesystem;
using config::Field;
using config::FieldType;
using config::make_field;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------- schema

Field choice(std::string key, json def, std::vector<std::string> choices, std::string doc) {
  Field f = make_field(std::move(key), FieldType::kString, std::move(def), std::move(doc));
  f.choices = std::move(choices);
  return f;
}

Field object(std::string key, std::vector<Field> children) {
  Field f = make_field(std::move(key), FieldType::kObject, nullptr, "");
  f.children = std::move(children);
  return f;
}

Field ranged(Field f, double lo, double hi) {
  f.range(lo, hi);
  return f;
}

std::vector<Field> common_fields(const std::string& part) {
  Field optional_description = make_field("description", FieldType::kString, nullptr, "free text");
  optional_description.optional = true;
  return {make_field("name", FieldType::kString, nullptr, "run name"),
          choice("part", part, part_names(), "which part of notebook 1"),
          optional_description,
          ranged(make_field("seed", FieldType::kInt, 0, "seed of the generated data and initialisation"), 0, 9e15),
          ranged(make_field("threads", FieldType::kInt, 0, "intra-op threads (0: all cores)"), 0, 1024),
          object("output", {make_field("dir", FieldType::kString, "runs/basics", "where run folders go")})};
}

Field train_object(int64_t epochs, double lr, bool with_optimizer) {
  std::vector<Field> f = {ranged(make_field("epochs", FieldType::kInt, epochs, "full-batch gradient steps"), 1, 1e7),
                          ranged(make_field("lr", FieldType::kNumber, lr, "learning rate"), 1e-9, 100)};
  if (with_optimizer) f.push_back(choice("optimizer", "sgd", {"sgd", "adam"}, "optimizer"));
  return object("train", f);
}

std::vector<Field> part_fields(const std::string& part) {
  std::vector<Field> fields = common_fields(part);
  Field x_range = make_field("x_range", FieldType::kNumberList, json::array({-3.0, 3.0}), "range of the inputs");
  Field n = ranged(make_field("n", FieldType::kInt, 200, "number of points"), 4, 1e7);
  Field noise = ranged(make_field("noise", FieldType::kNumber, 0.3, "standard deviation of the noise"), 0, 1e6);
  if (part == "linear") {
    fields.push_back(object("data", {n, noise, x_range,
                                     make_field("coefficients", FieldType::kNumberList, json::array({2.5}), "true slopes, one per input"),
                                     make_field("intercept", FieldType::kNumber, 1.0, "true intercept")}));
    fields.push_back(train_object(500, 0.1, true));
  } else if (part == "nonlinear") {
    fields.push_back(object("data", {n, noise, x_range,
                                     choice("function", "sin", {"sin", "square", "cubic", "abs"}, "the true curve")}));
    fields.push_back(object("model", {make_field("hidden", FieldType::kIntList, json::array({64, 64}), "hidden layer sizes"),
                                      choice("activation", "relu", {"relu", "tanh"}, "activation")}));
    fields.push_back(train_object(2000, 0.01, false));
  } else if (part == "logistic") {
    fields.push_back(object("data", {ranged(make_field("n_per_class", FieldType::kInt, 200, "points per class"), 2, 1e7),
                                     make_field("means", FieldType::kAny, json::array({json::array({-1.0, -1.0}), json::array({1.5, 1.0})}),
                                                "the two classes' 2-D centres"),
                                     ranged(make_field("std", FieldType::kNumber, 0.8, "spread of each class"), 1e-6, 1e6)}));
    fields.push_back(train_object(500, 0.1, false));
  } else if (part == "autodiff") {
    fields.push_back(make_field("expressions", FieldType::kAny, json::array({"polynomial", "composition", "network"}),
                                "expressions to differentiate"));
    fields.push_back(make_field("points", FieldType::kAny, json::array({json::array({0.7, -1.3}), json::array({-0.4, 2.1})}),
                                "2-D points to differentiate at"));
    fields.push_back(ranged(make_field("eps", FieldType::kNumber, 1e-6, "finite-difference step"), 1e-12, 1));
    fields.push_back(ranged(make_field("tolerance", FieldType::kNumber, 1e-6, "largest accepted relative error"), 0, 1));
  } else if (part == "optimize") {
    Field opt = make_field("optimizers", FieldType::kObjectList, nullptr, "optimizers to compare");
    opt.children = {choice("type", nullptr, {"sgd", "momentum", "adam", "lbfgs"}, "optimizer"),
                    ranged(make_field("lr", FieldType::kNumber, nullptr, "learning rate"), 1e-9, 100),
                    ranged(make_field("momentum", FieldType::kNumber, 0.9, "momentum (type momentum)"), 0, 0.9999),
                    ranged(make_field("steps", FieldType::kInt, 0, "steps for this optimizer (0: the top-level steps)"), 0, 1e7)};
    fields.push_back(choice("function", nullptr, {"rosenbrock", "himmelblau", "beale", "bowl"}, "function to minimise"));
    fields.push_back(make_field("params", FieldType::kAny, json::object(),
                                "function parameters: rosenbrock {a, b}; bowl {center, scale}"));
    fields.push_back(make_field("start", FieldType::kNumberList, nullptr, "start point [x, y]"));
    fields.push_back(ranged(make_field("steps", FieldType::kInt, 2000, "optimizer steps"), 1, 1e7));
    fields.push_back(ranged(make_field("tolerance", FieldType::kNumber, 1e-3, "distance to a minimum that counts as reached"), 0, 1e6));
    fields.push_back(make_field("window", FieldType::kNumberList, json::array({-2.0, 2.0, -1.0, 3.0}), "plot window [x0, x1, y0, y1]"));
    fields.push_back(opt);
  }
  return fields;
}

// ---------------------------------------------------------------- helpers

std::vector<double> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous().flatten();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

torch::Tensor to_tensor(const std::vector<std::vector<double>>& rows) {
  const int64_t n = static_cast<int64_t>(rows.size()), d = n ? static_cast<int64_t>(rows[0].size()) : 0;
  torch::Tensor t = torch::empty({n, d}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) a[i][j] = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
  return t;
}

torch::Generator generator(uint64_t seed, uint64_t stream) {
  return at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, stream));
}

std::pair<double, double> range_of(const json& r, const std::string& pointer) {
  if (r.size() != 2 || r[0].get<double>() >= r[1].get<double>()) throw_usage(pointer + ": expected [low, high] with low < high");
  return {r[0].get<double>(), r[1].get<double>()};
}

// Full-batch training of `model` on (x, y) with the given loss; returns the final loss.
template <typename Loss>
double fit_full_batch(torch::nn::Module& model, const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                      const torch::Tensor& x, const torch::Tensor& y, int64_t epochs, double lr, bool adam, Loss loss) {
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (adam) {
    opt = std::make_unique<torch::optim::Adam>(model.parameters(), torch::optim::AdamOptions(lr));
  } else {
    opt = std::make_unique<torch::optim::SGD>(model.parameters(), torch::optim::SGDOptions(lr));
  }
  double last = 0;
  for (int64_t e = 0; e < epochs; ++e) {
    opt->zero_grad();
    torch::Tensor l = loss(forward(x), y);
    l.backward();
    opt->step();
    if (e + 1 == epochs) last = l.item<double>();
  }
  if (!std::isfinite(last)) throw_failure("training diverged (non-finite loss): lower train.lr");
  return last;
}

struct Standardised {
  torch::Tensor values, mean, std;
};

Standardised standardise(const torch::Tensor& t) {
  Standardised s{t, t.mean(0, true), t.std(0, /*unbiased=*/false, true)};
  s.std = torch::where(s.std > 1e-12, s.std, torch::ones_like(s.std));
  s.values = (t - s.mean) / s.std;
  return s;
}

report::Series series(std::string name, std::vector<double> x, std::vector<double> y, uint32_t rgb, bool points) {
  return {std::move(name), std::move(x), std::move(y), rgb, points};
}

// ---------------------------------------------------------------- linear regression

struct RegressionData {
  torch::Tensor x, y;  // float64 [n, d], [n]
  std::vector<std::string> x_names;
  std::string y_name = "y";
  std::optional<LinearFit> truth;
};

RegressionData linear_data(const json& cfg, const std::optional<CsvSource>& csv) {
  RegressionData d;
  if (csv) {
    const CsvTable table = read_csv(csv->file);
    const auto origin = csv->file.string();
    d.x = to_tensor(select_columns(table, csv->x, origin));
    std::vector<std::vector<double>> y = select_columns(table, {csv->y}, origin);
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

torch::Tensor true_curve(const std::string& f, const torch::Tensor& x) {
  if (f == "sin") return torch::sin(x);
  if (f == "square") return x * x;
  if (f == "cubic") return x * x * x / 3.0 - x;
  return torch::abs(x);
}

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
    const CsvTable table = read_csv(csv->file);
    x = to_tensor(select_columns(table, csv->x, csv->file.string()));
    labels = to_tensor(select_columns(table, {csv->y}, csv->file.string())).flatten();
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
          {"confusion_matrix", eval::metrics_to_json(m, classes)["confusion_matrix"]}};
}

// ---------------------------------------------------------------- autodiff

json run_autodiff(const json& cfg, std::string& summary) {
  json checks = json::array();
  double worst = 0;
  for (const auto& expression : cfg["expressions"]) {
    for (const auto& point : cfg["points"]) {
      const GradientCheck c = check_gradient(expression.get<std::string>(), point.get<std::vector<double>>(), cfg["eps"]);
      worst = std::max(worst, c.max_relative_error);
      checks.push_back({{"expression", c.expression}, {"point", c.point}, {"value", c.value}, {"autograd", c.autograd},
                        {"analytic", c.analytic}, {"finite_difference", c.finite_difference},
                        {"max_relative_error", c.max_relative_error}});
      spdlog::info("{} at ({}): f = {:.6f}; autograd {} | analytic {} | finite difference {} | rel. error {:.1e}", c.expression,
                   fmt::join(c.point, ", "), c.value, fmt::join(c.autograd, ", "), fmt::join(c.analytic, ", "),
                   fmt::join(c.finite_difference, ", "), c.max_relative_error);
    }
  }
  const bool ok = worst <= cfg["tolerance"].get<double>();
  summary = fmt::format("{} gradients, max relative error {:.1e} ({})", checks.size(), worst, ok ? "agree" : "DISAGREE");
  if (!ok) throw_failure(fmt::format("autodiff: gradients disagree (max relative error {:.2e})", worst));
  return {{"checks", checks}, {"max_relative_error", worst}};
}

// ---------------------------------------------------------------- 2-D optimisation

json run_optimize(const json& cfg, const fs::path& dir, std::string& summary) {
  const std::string function = cfg["function"];
  const auto start = cfg["start"].get<std::vector<double>>();
  if (start.size() != 2) throw_usage("/start: expected [x, y]");
  const auto window = cfg["window"].get<std::vector<double>>();
  if (window.size() != 4 || window[0] >= window[1] || window[2] >= window[3]) throw_usage("/window: expected [x0, x1, y0, y1]");
  const auto minima = known_minima(function, cfg["params"]);
  json rows = json::array();
  report::ContourPlot plot;
  plot.title = fmt::format("{} from ({}, {})", function, start[0], start[1]);
  plot.x_min = window[0], plot.x_max = window[1], plot.y_min = window[2], plot.y_max = window[3];
  plot.nx = plot.ny = 161;
  for (int64_t j = 0; j < plot.ny; ++j) {
    for (int64_t i = 0; i < plot.nx; ++i) {
      const double x = plot.x_min + (plot.x_max - plot.x_min) * static_cast<double>(i) / static_cast<double>(plot.nx - 1);
      const double y = plot.y_min + (plot.y_max - plot.y_min) * static_cast<double>(j) / static_cast<double>(plot.ny - 1);
      plot.values.push_back(evaluate_function(function, cfg["params"], x, y));
    }
  }
  plot.markers = minima;
  const uint32_t colors[] = {0xffffff, 0xff7f0e, 0xe377c2, 0x17becf, 0xbcbd22};  // readable on the colour map
  std::vector<std::string> parts;
  size_t k = 0;
  for (const auto& opt : cfg["optimizers"]) {
    const int64_t steps = opt["steps"].get<int64_t>() > 0 ? opt["steps"].get<int64_t>() : cfg["steps"].get<int64_t>();
    const OptimizerPath r = minimise(function, cfg["params"], {start[0], start[1]}, opt, steps, cfg["tolerance"]);
    report::Series s;
    s.name = fmt::format("{} (lr {})", r.optimizer, opt["lr"].get<double>());
    s.rgb = colors[k++ % 5];
    for (const auto& [x, y] : r.path) s.x.push_back(x), s.y.push_back(y);
    plot.paths.push_back(s);
    rows.push_back({{"optimizer", r.optimizer}, {"lr", opt["lr"]}, {"end", {r.path.back().first, r.path.back().second}},
                    {"value", r.final_value}, {"steps", r.steps}, {"steps_to_tolerance", r.steps_to_tolerance},
                    {"distance_to_nearest_minimum", r.distance_to_minimum}});
    parts.push_back(fmt::format("{} {:.1e}", r.optimizer, r.distance_to_minimum));
    spdlog::info("{} {}: end ({:.5f}, {:.5f}), f = {:.3e}, {} steps, within {} of a minimum after {} steps, distance {:.2e}",
                 function, s.name, r.path.back().first, r.path.back().second, r.final_value, r.steps,
                 cfg["tolerance"].get<double>(), r.steps_to_tolerance, r.distance_to_minimum);
  }
  report::write_contour_png(dir / "paths.png", plot);
  summary = fmt::format("{}: distance to minimum {}", function, fmt::join(parts, ", "));
  json known = json::array();
  for (const auto& [x, y] : minima) known.push_back({x, y});
  return {{"function", function}, {"start", start}, {"known_minima", known}, {"optimizers", rows}};
}

double sq(double v) { return v * v; }

}  // namespace

// ---------------------------------------------------------------- public numerical pieces

std::vector<std::string> part_names() { return {"linear", "nonlinear", "logistic", "autodiff", "optimize"}; }

LinearFit least_squares(const std::vector<std::vector<double>>& x, const std::vector<double>& y) {
  const torch::Tensor X = torch::cat({to_tensor(x), torch::ones({static_cast<int64_t>(x.size()), 1}, torch::kFloat64)}, 1);
  const torch::Tensor Y = torch::tensor(y, torch::kFloat64).unsqueeze(1);
  const torch::Tensor beta = torch::linalg::solve(X.t().matmul(X), X.t().matmul(Y), true).flatten();
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

GradientCheck check_gradient(const std::string& expression, const std::vector<double>& point, double eps) {
  if (point.size() != 2) throw_usage("autodiff: points are 2-D");
  const double x = point[0], y = point[1];
  // The "network": f(p) = w2 . tanh(W1 p + b1) + b2 with fixed weights.
  const torch::Tensor W1 = torch::tensor({0.5, -1.2, 0.8, 0.3, -0.7, 1.1}, torch::kFloat64).view({3, 2});
  const torch::Tensor b1 = torch::tensor({0.1, -0.2, 0.05}, torch::kFloat64);
  const torch::Tensor w2 = torch::tensor({1.5, -0.8, 0.6}, torch::kFloat64);
  auto f = [&](const torch::Tensor& p) -> torch::Tensor {
    const torch::Tensor px = p[0], py = p[1];
    if (expression == "polynomial") return 3 * px.pow(3) - 2 * px * py + py.pow(2) + 1;
    if (expression == "composition") return torch::exp(torch::sin(px)) * torch::log(1 + py.pow(2));
    if (expression == "network") return (w2 * torch::tanh(torch::matmul(W1, p) + b1)).sum() + 0.3;
    throw_usage("autodiff: unknown expression \"" + expression + "\" (polynomial, composition, network)");
  };
  GradientCheck c;
  c.expression = expression;
  c.point = point;
  const torch::Tensor p = torch::tensor(point, torch::kFloat64).requires_grad_(true);
  const torch::Tensor value = f(p);
  value.backward();
  c.value = value.item<double>();
  c.autograd = to_vector(p.grad());
  if (expression == "polynomial") {
    c.analytic = {9 * x * x - 2 * y, -2 * x + 2 * y};
  } else if (expression == "composition") {
    c.analytic = {std::cos(x) * std::exp(std::sin(x)) * std::log(1 + y * y), std::exp(std::sin(x)) * 2 * y / (1 + y * y)};
  } else {
    const torch::Tensor h = torch::tanh(torch::matmul(W1, torch::tensor(point, torch::kFloat64)) + b1);
    c.analytic = to_vector(torch::matmul(W1.t(), w2 * (1 - h * h)));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < 2; ++i) {
    std::vector<double> plus = point, minus = point;
    plus[i] += eps;
    minus[i] -= eps;
    c.finite_difference.push_back((f(torch::tensor(plus, torch::kFloat64)).item<double>() -
                                   f(torch::tensor(minus, torch::kFloat64)).item<double>()) / (2 * eps));
  }
  for (size_t i = 0; i < 2; ++i) {
    const double scale = std::max(1.0, std::abs(c.analytic[i]));
    c.max_relative_error = std::max({c.max_relative_error, std::abs(c.autograd[i] - c.analytic[i]) / scale,
                                     std::abs(c.autograd[i] - c.finite_difference[i]) / scale});
  }
  return c;
}

namespace {
double param(const json& params, const char* key, double def) {
  return params.contains(key) ? params[key].get<double>() : def;
}

template <typename T>
T function_value(const std::string& function, const json& params, const T& x, const T& y) {
  if (function == "rosenbrock") {
    const double a = param(params, "a", 1.0), b = param(params, "b", 100.0);
    return (a - x) * (a - x) + b * (y - x * x) * (y - x * x);
  }
  if (function == "himmelblau") return (x * x + y - 11) * (x * x + y - 11) + (x + y * y - 7) * (x + y * y - 7);
  if (function == "beale") {
    const T t1 = 1.5 - x + x * y, t2 = 2.25 - x + x * y * y, t3 = 2.625 - x + x * y * y * y;
    return t1 * t1 + t2 * t2 + t3 * t3;
  }
  if (function == "bowl") {
    const auto c = params.contains("center") ? params["center"].get<std::vector<double>>() : std::vector<double>{0.0, 0.0};
    const auto s = params.contains("scale") ? params["scale"].get<std::vector<double>>() : std::vector<double>{1.0, 1.0};
    return s.at(0) * (x - c.at(0)) * (x - c.at(0)) + s.at(1) * (y - c.at(1)) * (y - c.at(1));
  }
  throw_usage("unknown function \"" + function + "\" (rosenbrock, himmelblau, beale, bowl)");
}
}  // namespace

std::vector<std::pair<double, double>> known_minima(const std::string& function, const json& params) {
  if (function == "rosenbrock") {
    const double a = param(params, "a", 1.0);
    return {{a, a * a}};
  }
  if (function == "himmelblau") return {{3.0, 2.0}, {-2.805118, 3.131312}, {-3.779310, -3.283186}, {3.584428, -1.848126}};
  if (function == "beale") return {{3.0, 0.5}};
  if (function == "bowl") {
    const auto c = params.contains("center") ? params["center"].get<std::vector<double>>() : std::vector<double>{0.0, 0.0};
    return {{c.at(0), c.at(1)}};
  }
  throw_usage("unknown function \"" + function + "\" (rosenbrock, himmelblau, beale, bowl)");
}

double evaluate_function(const std::string& function, const json& params, double x, double y) {
  return function_value<double>(function, params, x, y);
}

OptimizerPath minimise(const std::string& function, const json& params, std::pair<double, double> start,
                       const json& optimizer, int64_t steps, double tolerance) {
  const std::string type = optimizer.at("type");
  const double lr = optimizer.at("lr");
  torch::Tensor p = torch::tensor({start.first, start.second}, torch::kFloat64).requires_grad_(true);
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (type == "sgd") {
    opt = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{p}, torch::optim::SGDOptions(lr));
  } else if (type == "momentum") {
    opt = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{p},
                                              torch::optim::SGDOptions(lr).momentum(optimizer.value("momentum", 0.9)));
  } else if (type == "adam") {
    opt = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{p}, torch::optim::AdamOptions(lr));
  } else if (type == "lbfgs") {
    opt = std::make_unique<torch::optim::LBFGS>(std::vector<torch::Tensor>{p},
                                                torch::optim::LBFGSOptions(lr).line_search_fn("strong_wolfe"));
  } else {
    throw_usage("unknown optimizer \"" + type + "\" (sgd, momentum, adam, lbfgs)");
  }
  const auto minima = known_minima(function, params);
  auto distance = [&](double x, double y) {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& [mx, my] : minima) best = std::min(best, std::hypot(x - mx, y - my));
    return best;
  };
  auto closure = [&]() -> torch::Tensor {
    opt->zero_grad();
    torch::Tensor v = function_value<torch::Tensor>(function, params, p[0], p[1]);
    v.backward();
    return v;
  };
  OptimizerPath r;
  r.optimizer = type;
  r.path.push_back(start);
  for (int64_t s = 1; s <= steps; ++s) {
    opt->step(closure);
    const double x = p[0].item<double>(), y = p[1].item<double>();
    if (!std::isfinite(x) || !std::isfinite(y)) throw_failure(fmt::format("{} diverged at step {}: lower its lr", type, s));
    r.path.push_back({x, y});
    r.steps = s;
    if (r.steps_to_tolerance < 0 && distance(x, y) <= tolerance) r.steps_to_tolerance = s;
  }
  r.final_value = evaluate_function(function, params, r.path.back().first, r.path.back().second);
  r.distance_to_minimum = distance(r.path.back().first, r.path.back().second);
  return r;
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
    config::apply_schema(raw, part_fields(part), "");
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
