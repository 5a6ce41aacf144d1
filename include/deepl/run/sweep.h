#pragma once
// Hyper-parameter sweeps. A sweep file names a base experiment, a search space of config keys
// (lists of values or distributions) and a method: `grid`, `random` (seeded draws) or `halving`
// (successive halving: many trials on a small epoch budget, the best 1/eta continued with eta times
// the budget until train.epochs). Each trial is an ordinary run folder, trained by a `deepl train`
// process, so `deepl eval`, `deepl runs` and resume understand it. A sweep folder holds:
//   sweep.json                    what the sweep was started with (a changed sweep file is refused)
//   trials/NNN-<key=value,...>/   the trial's run folder, its train.log and trial.json (status, error)
//   summary.csv, summary.md       ranked, best first, the searched keys as columns
//   best.json                     the winning trial's resolved config, for `deepl train --config`
//   sweep.png                     the metric against each searched key
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deepl/config/config.h"

namespace deepl::run {

/// One searched config key: a list of values, or a distribution to draw from.
struct SearchDimension {
  std::string key;           // dotted config key: "optimizer.lr"
  std::string distribution;  // values | uniform | log_uniform | int_uniform | choice
  nlohmann::json values;     // values, choice: the candidates
  double low = 0, high = 0;  // uniform, log_uniform, int_uniform: the closed range

  /// Plotted on a log axis: log_uniform, or positive numbers spanning a factor of 20 or more.
  bool log_scale() const;
};

struct Sweep {
  std::filesystem::path file;
  nlohmann::json json;  // the resolved sweep file
  std::string name;
  std::filesystem::path experiment;    // the base experiment's file
  std::vector<std::string> overrides;  // the file's "set", then the command line's --set: every trial gets them
  nlohmann::json base_config;          // the base experiment resolved with `overrides`
  std::vector<SearchDimension> space;
  std::string method;  // grid | random | halving
  int trials = 0;      // random, halving: configurations drawn (halving with 0: every grid point)
  uint64_t seed = 0;
  std::string metric;  // val_accuracy, val_loss, train_accuracy, train_loss
  bool maximize = true;
  int jobs = 1;
  int64_t epochs = 0;  // the base experiment's train.epochs, overrides applied
  int64_t min_epochs = 1;
  int eta = 3;
  std::filesystem::path out_dir;
};

struct Trial {
  int index = 0;
  std::string folder;                                          // "003-lr=0.001,hidden=256"
  std::vector<std::pair<std::string, nlohmann::json>> values;  // each searched key's value
  std::vector<std::string> overrides;                          // Sweep::overrides, then "key=value" per searched key
};

/// Reads and validates a sweep file (errors name the file and the JSON pointer); `overrides` are the
/// command line's --set, `out_dir` replaces output.dir/<name>. The base experiment is looked up as
/// `deepl train --config` does, relative paths first against the sweep file's folder.
Sweep load_sweep(const std::filesystem::path& file, const std::vector<std::string>& overrides = {},
                 const std::optional<std::filesystem::path>& out_dir = std::nullopt);

/// The trials in order: the grid's cartesian product (keys in sorted order, the last varying
/// fastest), or `trials` seeded draws (numbers rounded to 4 significant digits).
std::vector<Trial> expand_trials(const Sweep& sweep);

/// A trial's experiment, resolved and validated; errors are prefixed with the trial's folder.
config::Experiment trial_experiment(const Sweep& sweep, const Trial& trial);

/// The halving rungs: min_epochs, min_epochs * eta, ... below train.epochs, then train.epochs.
std::vector<int64_t> halving_budgets(const Sweep& sweep);

/// Markdown reference table of the sweep file's keys (`deepl config docs` prints it after the experiment's).
std::string sweep_reference_markdown();

/// Where a trial stands, read from its folder.
struct TrialOutcome {
  Trial trial;
  std::filesystem::path dir;
  std::string status;            // pending | running | paused | interrupted | finished | failed
  std::optional<double> metric;  // best value of the sweep's metric over the epochs trained
  std::optional<double> test_accuracy;
  int64_t epochs = 0;  // epochs trained
  double seconds = 0;  // training seconds, summed over the epochs
  std::string error;   // failed: the error line
};

/// Reads a trial's folder; `upto_epochs` > 0 takes the metric over the first that many epochs only.
TrialOutcome read_trial_outcome(const Sweep& sweep, const Trial& trial, int64_t upto_epochs = 0);

struct SweepSummary {
  std::vector<TrialOutcome> ranked;  // best first; failed and pending last
  int64_t epochs_spent = 0;          // over every trial
  int64_t epochs_full = 0;           // what every trial trained to train.epochs would take
};

/// Reads every trial, ranks them and writes summary.csv, summary.md, best.json (when a trial
/// finished) and sweep.png, atomically.
SweepSummary summarize_sweep(const Sweep& sweep);
/// summary.md's text: the ranked table and, for halving, the epochs against a full grid.
std::string summary_markdown(const Sweep& sweep, const SweepSummary& summary);
/// The trials, one line each: index, folder, values, status.
std::string list_trials(const Sweep& sweep);

struct SweepOptions {
  int jobs = 0;                   // trials at a time (0: the sweep file's `jobs`)
  int threads = -1;               // per trial (-1: the machine's cores / jobs; 0: all cores)
  std::optional<int> only_trial;  // --trial K: run trial K alone (grid and random only)
  bool retry_failed = false;      // run failed trials again
  bool quiet = false;
  std::filesystem::path program;  // the deepl executable that trains a trial
};

struct SweepRun {
  SweepSummary summary;
  int interrupted_by = 0;  // SIGINT/SIGTERM that stopped the sweep (the trials wrote last.pt), else 0
  int trials_left = 0;     // not finished or failed
};

/// Runs (or continues) the sweep: finished and failed trials are read from their folders,
/// interrupted ones resume from their last.pt; then writes the summary.
SweepRun run_sweep(const Sweep& sweep, const SweepOptions& options);

}  // namespace deepl::run
