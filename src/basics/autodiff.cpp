// Notebook 1, autodiff: LibTorch's gradients against analytic ones and finite differences.
#include "internal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

namespace deepl::basics::detail {

namespace fs = std::filesystem;
using nlohmann::json;

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

}  // namespace deepl::basics::detail

namespace deepl::basics {

using namespace detail;
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

}  // namespace deepl::basics
