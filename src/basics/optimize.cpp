// Notebook 1, 2-D optimisation: SGD, momentum, Adam and L-BFGS on known functions, paths drawn.
#include "internal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

namespace deepl::basics::detail {

namespace fs = std::filesystem;
using nlohmann::json;

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

}  // namespace deepl::basics::detail

namespace deepl::basics {

using namespace detail;
using nlohmann::json;

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

}  // namespace deepl::basics
