// Sweep files: the schema, validation, and the trials a search space expands to.
#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <random>

#include "deepl/config/plan.h"
#include "deepl/core/error.h"
#include "deepl/core/schema.h"
#include "deepl/core/json_util.h"
#include "deepl/core/paths.h"
#include "deepl/run/sweep.h"
#include "deepl/train/optim.h"

namespace deepl::run {

namespace fs = std::filesystem;
using schema::Field;
using schema::FieldType;
using schema::make_field;
using nlohmann::json;

namespace {

const std::vector<std::string> kDistributions = {"uniform", "log_uniform", "int_uniform", "choice"};
constexpr double kMaxTrials = 100000;  // a sweep's trials, drawn or in the grid

std::vector<Field> build_sweep_fields() {
  using schema::choice;
  using schema::object;
  using schema::optional;
  using schema::ranged;
  std::vector<std::string> metrics = config::monitor_names();
  metrics.insert(metrics.begin(), "auto");
  return {
      optional(make_field("name", FieldType::kString, nullptr,
                          "sweep name: its folder is <output.dir>/<name> (default: the file's name)")),
      optional(make_field("description", FieldType::kString, nullptr, "free text")),
      make_field("experiment", FieldType::kString, nullptr,
                 "base experiment: a JSON file (relative to the sweep file) or a shipped experiment's name"),
      make_field("set", FieldType::kAny, json::object(),
                 "config keys every trial gets, as an object of dotted key -> value (e.g. {\"train.epochs\": 3})"),
      make_field(
          "space", FieldType::kAny, nullptr,
          "searched config keys: dotted key -> a list of values, or {\"uniform\"|\"log_uniform\"|\"int_uniform\": "
          "[low, high]} or {\"choice\": [values]}"),
      choice("method", "grid", {"grid", "random", "halving"},
             "grid: every combination of the lists; random: `trials` seeded draws; halving: successive halving of "
             "`trials` draws"),
      ranged(
          make_field("trials", FieldType::kInt, 0, "random, halving: configurations drawn (halving with 0: the grid)"),
          0, kMaxTrials),
      ranged(make_field("seed", FieldType::kInt, 0, "seed of the random draws"), 0, 9.0e15),
      choice("metric", "auto", metrics,
             "what ranks the trials, best over the epochs; auto: the experiment's "
             "train.checkpoint.monitor (a regression's trials rank by val_r2 for val_accuracy)"),
      choice("direction", "auto", {"auto", "max", "min"}, "auto: max for accuracies, min for losses"),
      ranged(make_field("jobs", FieldType::kInt, 1, "trials run at a time (each gets cores / jobs threads)"), 1, 1024),
      object("halving",
             {ranged(make_field("min_epochs", FieldType::kInt, 1, "epochs of the first rung"), 1, 1e6),
              ranged(make_field("eta", FieldType::kInt, 3,
                                "keep the best 1/eta at each rung, which gets eta times "
                                "the epochs"),
                     2, 1000)},
             ""),
      object("output", {make_field("dir", FieldType::kString, "runs/sweeps", "where sweep folders go: <dir>/<name>/")},
             ""),
  };
}

const std::vector<Field>& sweep_fields() {
  static const std::vector<Field> fields = build_sweep_fields();
  return fields;
}

[[noreturn]] void bad_dimension(const std::string& pointer) {
  throw_usage(
      fmt::format("{}: expected a non-empty list of values, or an object with one of {} (\"log_uniform\": "
                  "[1e-4, 1e-2])",
                  pointer, fmt::join(kDistributions, ", ")));
}

SearchDimension parse_dimension(const std::string& key, const json& spec) {
  const std::string pointer = "/space/" + key;
  SearchDimension d;
  d.key = key;
  if (spec.is_array()) {
    if (spec.empty()) bad_dimension(pointer);
    d.distribution = "values";
    d.values = spec;
    return d;
  }
  if (!spec.is_object() || spec.size() != 1) bad_dimension(pointer);
  d.distribution = spec.begin().key();
  const json& arg = spec.begin().value();
  const std::string at = pointer + "/" + d.distribution;
  if (d.distribution == "choice") {
    if (!arg.is_array() || arg.empty()) throw_usage(at + ": expected a non-empty list of values");
    d.values = arg;
    return d;
  }
  if (d.distribution != "uniform" && d.distribution != "log_uniform" && d.distribution != "int_uniform") {
    bad_dimension(pointer);
  }
  if (!arg.is_array() || arg.size() != 2 || !arg[0].is_number() || !arg[1].is_number()) {
    throw_usage(at + ": expected [low, high], two numbers");
  }
  d.low = arg[0].get<double>();
  d.high = arg[1].get<double>();
  if (!std::isfinite(d.low) || !std::isfinite(d.high) || d.low > d.high) throw_usage(at + ": expected low <= high");
  if (d.distribution == "log_uniform" && d.low <= 0) throw_usage(at + ": a log-uniform range must be positive");
  if (d.distribution == "int_uniform" && (d.low != std::floor(d.low) || d.high != std::floor(d.high))) {
    throw_usage(at + ": expected two integers");
  }
  return d;
}

// A grid's size is the product of its lists' lengths: refused before anything is expanded.
void check_grid_size(const std::vector<SearchDimension>& space) {
  double combinations = 1;
  for (const auto& d : space) combinations *= static_cast<double>(d.values.size());
  if (combinations > kMaxTrials) {
    throw_usage(
        fmt::format("/space: the grid has {:.0f} combinations, more than {:.0f}; use \"method\": \"random\" "
                    "with \"trials\"",
                    combinations, kMaxTrials));
  }
}

std::string override_of(const std::string& key, const json& value) { return key + "=" + value.dump(); }

// The `set` object as --set assignments, checked to be key -> value.
std::vector<std::string> fixed_overrides(const json& set) {
  if (!set.is_object()) throw_usage("/set: expected an object of dotted config key -> value");
  std::vector<std::string> out;
  for (const auto& item : set.items()) out.push_back(override_of(item.key(), item.value()));
  return out;
}

std::string key_of(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

fs::path locate_experiment(const std::string& name, const fs::path& sweep_file) {
  const fs::path beside = sweep_file.parent_path() / name;
  if (fs::path(name).is_relative() && fs::is_regular_file(beside)) return beside;
  return find_experiment(name, locations());
}

Sweep parse_sweep(json raw, const fs::path& file, const std::vector<std::string>& cli_overrides,
                  const std::optional<fs::path>& out_dir) {
  if (!raw.is_object()) throw_usage("/: a sweep is a JSON object");
  schema::apply_schema(raw, sweep_fields(), "");
  Sweep s;
  s.file = file;
  s.name = raw["name"].is_null() ? file.stem().string() : raw["name"].get<std::string>();
  if (s.name.empty() || s.name.find('/') != std::string::npos || s.name == "." || s.name == "..") {
    throw_usage("/name: must be a non-empty folder name without '/'");
  }
  if (!raw["space"].is_object() || raw["space"].empty()) {
    throw_usage("/space: expected an object of dotted config key -> values or distribution, with at least one key");
  }
  for (const auto& item : raw["space"].items()) s.space.push_back(parse_dimension(item.key(), item.value()));
  s.method = raw["method"];
  s.trials = raw["trials"];
  s.seed = raw["seed"];
  s.jobs = raw["jobs"];
  s.min_epochs = raw["halving"]["min_epochs"];
  s.eta = raw["halving"]["eta"];
  for (const auto& d : s.space) {
    if (s.method == "grid" && d.distribution != "values") {
      throw_usage(
          fmt::format("/space/{}: grid search needs a list of values, not a distribution (use \"method\": "
                      "\"random\")",
                      d.key));
    }
    if (s.method != "grid" && s.trials == 0 && d.distribution != "values") {
      throw_usage(fmt::format("/trials: {} search over a distribution needs \"trials\" >= 1", s.method));
    }
  }
  if (s.method == "random" && s.trials == 0) throw_usage("/trials: random search needs \"trials\" >= 1");
  if (s.method == "grid" || s.trials == 0) check_grid_size(s.space);
  s.overrides = fixed_overrides(raw["set"]);
  for (const auto& o : cli_overrides) {
    for (const auto& d : s.space) {
      if (key_of(o) == d.key) throw_usage(fmt::format("--set {}: {} is searched by the sweep", o, d.key));
    }
    s.overrides.push_back(o);
  }
  s.experiment = locate_experiment(raw["experiment"], file);
  const config::Experiment base = config::load_experiment(s.experiment, s.overrides);
  const config::TrainPlan train = config::plan_experiment(base).train;
  s.epochs = train.epochs;
  s.metric = raw["metric"] == "auto" ? train.checkpoint_monitor : raw["metric"].get<std::string>();
  s.maximize = raw["direction"] == "auto" ? train::higher_is_better(s.metric) : raw["direction"] == "max";
  s.out_dir = out_dir ? *out_dir : fs::path(raw["output"]["dir"].get<std::string>()) / s.name;
  s.base_config = base.json;
  s.json = std::move(raw);
  return s;
}

// A uniform double in [0, 1) from 53 random bits: the same draws on every standard library.
double unit_draw(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double four_digits(double x) {
  if (x == 0 || !std::isfinite(x)) return x;
  const double scale = std::pow(10.0, 3 - std::floor(std::log10(std::fabs(x))));
  return std::round(x * scale) / scale;
}

json draw(const SearchDimension& d, std::mt19937_64& rng) {
  const double u = unit_draw(rng);
  if (d.distribution == "values" || d.distribution == "choice") {
    return d.values[std::min(d.values.size() - 1, static_cast<size_t>(u * static_cast<double>(d.values.size())))];
  }
  if (d.distribution == "int_uniform") {
    return static_cast<int64_t>(std::min(d.high, d.low + std::floor(u * (d.high - d.low + 1))));
  }
  if (d.distribution == "log_uniform") {
    return four_digits(std::exp(std::log(d.low) + u * (std::log(d.high) - std::log(d.low))));
  }
  return four_digits(d.low + u * (d.high - d.low));
}

std::string short_value(const json& v) {
  if (v.is_number_float()) return fmt::format("{:.4g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& e : v) parts.push_back(short_value(e));
    return fmt::format("{}", fmt::join(parts, "x"));
  }
  return v.dump();
}

// "003-lr=0.001,hidden=256": the index, then the last part of each key with its value; characters a
// shell or a file system would trip over become '_'.
std::string folder_name(int index, const std::vector<std::pair<std::string, json>>& values) {
  std::string label;
  for (const auto& [key, value] : values) {
    if (!label.empty()) label += ",";
    label += key.substr(key.rfind('.') + 1) + "=" + short_value(value);
  }
  for (char& c : label) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string("._=,+-").find(c) == std::string::npos) c = '_';
  }
  if (label.size() > 80) label.resize(80);
  return fmt::format("{:03d}-{}", index, label);
}

Trial make_trial(const Sweep& sweep, int index, std::vector<std::pair<std::string, json>> values) {
  Trial t;
  t.index = index;
  t.folder = folder_name(index, values);
  t.overrides = sweep.overrides;
  for (const auto& [key, value] : values) t.overrides.push_back(override_of(key, value));
  t.values = std::move(values);
  return t;
}

std::vector<std::vector<std::pair<std::string, json>>> grid_points(const std::vector<SearchDimension>& space) {
  std::vector<std::vector<std::pair<std::string, json>>> points = {{}};
  for (const auto& d : space) {
    std::vector<std::vector<std::pair<std::string, json>>> next;
    for (const auto& point : points) {
      for (const auto& v : d.values) {
        next.push_back(point);
        next.back().emplace_back(d.key, v);
      }
    }
    points = std::move(next);
  }
  return points;
}

}  // namespace

bool SearchDimension::log_scale() const {
  if (distribution == "log_uniform") return true;
  if (distribution == "uniform" || distribution == "int_uniform") return false;
  double lo = INFINITY, hi = 0;
  for (const auto& v : values) {
    if (!v.is_number() || v.get<double>() <= 0) return false;
    lo = std::min(lo, v.get<double>());
    hi = std::max(hi, v.get<double>());
  }
  return hi >= 20 * lo;
}

Sweep load_sweep(const fs::path& file, const std::vector<std::string>& overrides,
                 const std::optional<fs::path>& out_dir) {
  try {
    return parse_sweep(read_json_file(file), file, overrides, out_dir);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(file.string(), 0) == 0) throw;
    throw Error(e.kind(), file.string() + ": " + what);
  }
}

std::vector<Trial> expand_trials(const Sweep& sweep) {
  std::vector<Trial> trials;
  if (sweep.method == "grid" || sweep.trials == 0) {
    for (auto& point : grid_points(sweep.space))
      trials.push_back(make_trial(sweep, static_cast<int>(trials.size()), point));
    return trials;
  }
  std::mt19937_64 rng(sweep.seed);
  for (int i = 0; i < sweep.trials; ++i) {
    std::vector<std::pair<std::string, json>> values;
    for (const auto& d : sweep.space) values.emplace_back(d.key, draw(d, rng));
    trials.push_back(make_trial(sweep, i, std::move(values)));
  }
  return trials;
}

config::Experiment trial_experiment(const Sweep& sweep, const Trial& trial) {
  try {
    return config::load_experiment(sweep.experiment, trial.overrides);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: trial {}: {}", sweep.file.string(), trial.folder, e.what()));
  }
}

std::vector<int64_t> halving_budgets(const Sweep& sweep) {
  std::vector<int64_t> budgets;
  for (int64_t b = sweep.min_epochs; b < sweep.epochs; b *= sweep.eta) budgets.push_back(b);
  budgets.push_back(sweep.epochs);
  return budgets;
}

std::string sweep_reference_markdown() {
  return "| key | type | default | meaning |\n|---|---|---|---|\n" + schema::schema_markdown_rows(sweep_fields(), "");
}

}  // namespace deepl::run
