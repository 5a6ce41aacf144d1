#pragma once
// Notebook 1 as a library: regression, logistic regression, automatic differentiation checked
// against analytic gradients, and 2-D function minimisation with autograd. Each part runs from a
// JSON config (experiments/basics/*.json), writes a run folder (config.json, manifest.json,
// results.json, figures) and returns its results.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace deepl::basics {

/// Columns of a user's CSV file to use instead of generated data.
struct CsvSource {
  std::filesystem::path file;
  std::vector<std::string> x;  // input columns
  std::string y;               // target column
};

struct PartResult {
  std::string name, part;
  nlohmann::json results;  // also written to results.json
  std::string summary;     // one line for the `all` table
  std::filesystem::path run_dir;
};

/// The parts: linear, nonlinear, logistic, autodiff, optimize.
std::vector<std::string> part_names();
/// Validates a basics config (the schema depends on its "part") and fills in defaults.
nlohmann::json resolve_config(nlohmann::json raw, const std::string& origin);
/// Runs one part from a resolved config; `out_dir` overrides <output.dir>/<name>.
PartResult run_part(const nlohmann::json& config, const std::optional<std::filesystem::path>& out_dir,
                    const std::optional<CsvSource>& csv = {});
/// Reads, validates and runs a config file.
PartResult run_config_file(const std::filesystem::path& file, const std::optional<std::filesystem::path>& out_dir,
                           const std::optional<CsvSource>& csv = {});

// The numerical pieces, exposed for tests and reuse.

struct LinearFit {
  std::vector<double> coefficients;
  double intercept = 0;
};
/// Closed-form least squares (normal equations in float64) of y on x ([n, d]).
LinearFit least_squares(const std::vector<std::vector<double>>& x, const std::vector<double>& y);
/// Coefficient of determination of predictions against targets.
double r_squared(const std::vector<double>& y, const std::vector<double>& predicted);
/// Area under the ROC curve of scores for binary labels (ties count half).
double roc_auc(const std::vector<double>& scores, const std::vector<int64_t>& labels);

struct GradientCheck {
  std::string expression;
  std::vector<double> point;
  double value = 0;
  std::vector<double> autograd, analytic, finite_difference;
  double max_relative_error = 0;  // autograd vs analytic, and autograd vs finite difference
};
/// Value and gradient of a named expression (polynomial, composition, network) three ways.
GradientCheck check_gradient(const std::string& expression, const std::vector<double>& point, double eps = 1e-6);

struct OptimizerPath {
  std::string optimizer;
  std::vector<std::pair<double, double>> path;  // start point, then one point per step
  double final_value = 0;
  double distance_to_minimum = 0;
  int64_t steps = 0;
  int64_t steps_to_tolerance = -1;  // first step within tolerance of a known minimum, -1 if never
};
/// Known minima of a named 2-D function (rosenbrock, himmelblau, beale, bowl).
std::vector<std::pair<double, double>> known_minima(const std::string& function, const nlohmann::json& params);
/// The function's value at (x, y).
double evaluate_function(const std::string& function, const nlohmann::json& params, double x, double y);
/// Minimises the function from `start` with one optimizer config ({type, lr, momentum}).
OptimizerPath minimise(const std::string& function, const nlohmann::json& params, std::pair<double, double> start,
                       const nlohmann::json& optimizer, int64_t steps, double tolerance);

}  // namespace deepl::basics
