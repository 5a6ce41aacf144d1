#pragma once
// Internal to notebook 1 (deepl::basics): the pieces its parts share. One file per part:
// regression.cpp (linear, nonlinear, logistic), autodiff.cpp, optimize.cpp; schema.cpp holds the
// config schema of every part and basics.cpp runs them.
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deepl/basics/basics.h"
#include "deepl/core/schema.h"
#include "deepl/core/error.h"
#include "deepl/report/plot.h"

namespace deepl::basics::detail {

std::vector<double> to_vector(const torch::Tensor& t);
torch::Tensor to_tensor(const std::vector<std::vector<double>>& rows);
/// A CPU generator seeded from (seed, stream), so each part's data is independent of the others.
torch::Generator generator(uint64_t seed, uint64_t stream);
/// A validated [low, high] range at `pointer`.
std::pair<double, double> range_of(const nlohmann::json& r, const std::string& pointer);

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

Standardised standardise(const torch::Tensor& t);
report::Series series(std::string name, std::vector<double> x, std::vector<double> y, uint32_t rgb, bool points);

/// The config fields of one part (after the common ones).
std::vector<schema::Field> part_fields(const std::string& part);

// Each part writes its figures into `dir`, sets a one-line `summary` and returns its results.
nlohmann::json run_linear(const nlohmann::json& cfg, const std::filesystem::path& dir, const std::optional<CsvSource>& csv,
                          std::string& summary);
nlohmann::json run_nonlinear(const nlohmann::json& cfg, const std::filesystem::path& dir, std::string& summary);
nlohmann::json run_logistic(const nlohmann::json& cfg, const std::filesystem::path& dir,
                            const std::optional<CsvSource>& csv, std::string& summary);
nlohmann::json run_autodiff(const nlohmann::json& cfg, std::string& summary);
nlohmann::json run_optimize(const nlohmann::json& cfg, const std::filesystem::path& dir, std::string& summary);

}  // namespace deepl::basics::detail
