#include "internal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "deepl/core/runtime.h"

namespace deepl::basics::detail {

namespace fs = std::filesystem;
using nlohmann::json;

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

Standardised standardise(const torch::Tensor& t) {
  Standardised s{t, t.mean(0, true), t.std(0, /*unbiased=*/false, true)};
  s.std = torch::where(s.std > 1e-12, s.std, torch::ones_like(s.std));
  s.values = (t - s.mean) / s.std;
  return s;
}

report::Series series(std::string name, std::vector<double> x, std::vector<double> y, uint32_t rgb, bool points) {
  return {std::move(name), std::move(x), std::move(y), rgb, points};
}

}  // namespace deepl::basics::detail
