// `deepl runs`, `deepl sweep` and `deepl reproduce`: many runs at once.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>

#include "../cli_common.h"
#include "commands.h"
#include "deepl/core/error.h"
#include "deepl/core/paths.h"
#include "deepl/core/runtime.h"
#include "deepl/core/signals.h"
#include "deepl/run/reproduce.h"
#include "deepl/run/runs.h"
#include "deepl/run/sweep.h"

namespace deepl::cli {

namespace {

struct RunsArgs {
  std::string dir = "runs", format = "table", html;
  run::RunsQuery query;
};

struct SweepArgs {
  std::string config, out_dir;
  std::vector<std::string> overrides;
  run::SweepOptions options;
  int threads = -1, trial = -1;
  bool list = false, summarize = false, quiet = false;
};

struct ReproduceArgs {
  std::string only, experiments, out_dir;
  std::vector<std::string> overrides;
  run::ReproduceOptions options;
  int threads = -1;
  bool quiet = false;
};

int list_runs(const RunsArgs& a) {
  const auto rows = run::list_runs(a.dir, a.query);
  if (a.html.empty()) {
    std::cout << run::format_runs(rows, a.format);
  } else {
    run::write_runs_page(a.html, rows, "deepl runs: " + a.dir);
    fmt::print("wrote {} ({} runs)\n", a.html, rows.size());
  }
  return 0;
}

int sweep(SweepArgs a) {
  if (a.quiet) setup_logging(true);
  std::optional<std::filesystem::path> sweep_dir;
  if (!a.out_dir.empty()) sweep_dir = a.out_dir;
  const auto spec = run::load_sweep(find_experiment(a.config, locations(), "sweeps"), a.overrides, sweep_dir);
  if (a.list) {
    std::cout << run::list_trials(spec);
    return 0;
  }
  if (a.summarize) {
    std::cout << run::summary_markdown(spec, run::summarize_sweep(spec));
    return 0;
  }
  a.options.quiet = a.quiet;
  a.options.threads = a.threads;
  a.options.program = current_executable();
  if (a.trial >= 0) a.options.only_trial = a.trial;
  const auto ran = run::run_sweep(spec, a.options);
  if (ran.interrupted_by != 0) {
    spdlog::warn("sweep stopped by {}: {} trial run(s) left; the same command continues", signal_name(ran.interrupted_by),
                 ran.trials_left);
    return 128 + ran.interrupted_by;
  }
  if (a.trial >= 0) return run::read_trial_outcome(spec, run::expand_trials(spec).at(a.trial)).status == "failed" ? 1 : 0;
  std::cout << run::summary_markdown(spec, ran.summary);
  return 0;
}

int reproduce(ReproduceArgs a) {
  if (a.quiet) setup_logging(true);
  a.options.out_dir = a.out_dir.empty() ? "runs/reproduce" : a.out_dir;
  a.options.quiet = a.quiet;
  a.options.threads = a.threads;
  a.options.overrides = a.overrides;
  if (a.experiments.empty()) a.experiments = shipped_experiments_folder(locations()).string();
  const auto rows = run::reproduce(run::shipped_experiments(a.experiments, a.only), "deepl reproduce", a.options);
  fmt::print("{}", run::summary_markdown("deepl reproduce", rows, configure_threads(std::max(0, a.threads))));
  for (const auto& r : rows) {
    if (!r.passed()) throw Error(ErrorKind::kFailure, fmt::format("{}: {}", r.name, r.status));
  }
  return 0;
}

}  // namespace

Subcommand runs_command() {
  return {"runs", "list the run folders under DIR as a table, or compare them on an HTML page",
          [](CLI::App& app, const Invocation&) -> Runner {
            auto a = std::make_shared<RunsArgs>();
            app.add_option("dir", a->dir, "folder of run folders, searched recursively (default: runs)");
            app.add_option("--sort", a->query.sort,
                           "column to sort by, -COLUMN for descending: name, model, status, epochs, best_val_accuracy, "
                           "test_accuracy, test_r2, wall_seconds, started (default), path");
            app.add_option("--filter", a->query.filters,
                           "keep runs where KEY=VALUE; KEY is a column or a dotted config key (model.type, "
                           "optimizer.lr); repeatable, all must match");
            app.add_option("--format", a->format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
            app.add_option("--html", a->html, "write a comparison page (table, validation curves, config differences)");
            return [a] { return list_runs(*a); };
          }};
}

Subcommand sweep_command() {
  return {"sweep", "hyper-parameter search from a sweep file: grid, random or successive halving",
          [](CLI::App& app, const Invocation&) -> Runner {
            auto a = std::make_shared<SweepArgs>();
            app.add_option("--config,-c", a->config,
                           "sweep file: a JSON file or a shipped sweep's name (mlp_mnist_lr, ...) from "
                           "experiments/sweeps/")
                ->required();
            app.add_option("--jobs,-j", a->options.jobs, "trials at a time (default: the sweep file's jobs)")
                ->check(CLI::Range(1, 1024));
            app.add_option("--out", a->out_dir, "sweep folder (default: <output.dir>/<name>)");
            app.add_option("--set", a->overrides,
                           "override a config key in every trial: --set train.epochs=2 (repeatable)");
            app.add_option("--threads", a->threads, "LibTorch threads per trial (default: cores / jobs; 0 = all cores)");
            app.add_flag("--list", a->list, "print the trials (index, status, folder, values) and exit");
            app.add_option("--trial", a->trial,
                           "run trial K alone (grid, random), e.g. one SLURM array task: sbatch --array=0-N; then "
                           "--summarize")
                ->check(CLI::NonNegativeNumber);
            app.add_flag("--summarize", a->summarize,
                         "read the trial folders, write summary.{csv,md}, best.json, sweep.png");
            app.add_flag("--retry-failed", a->options.retry_failed, "run failed trials again");
            app.add_flag("--quiet,-q", a->quiet, "warnings and errors only");
            app.footer(std::string("Trials run as `deepl train` processes, --jobs at a time, into <out>/trials/; the "
                                   "same command continues a sweep. ") +
                       kExitCodes + " A stopped sweep exits 128 + the signal; --trial K exits 1 when the trial failed.");
            return [a] { return sweep(*a); };
          }};
}

Subcommand reproduce_command() {
  return {"reproduce", "run every shipped experiment, print the results table, fail if one is below its target",
          [](CLI::App& app, const Invocation&) -> Runner {
            auto a = std::make_shared<ReproduceArgs>();
            app.add_option("--only", a->only, "one experiment by name (e.g. cnn_mnist)");
            app.add_option("--out", a->out_dir, "output folder (default: runs/reproduce)");
            app.add_option("--experiments", a->experiments,
                           "folder of the experiment configs (default: the shipped ones)")
                ->check(CLI::ExistingDirectory);
            app.add_option("--set", a->overrides, "override a key in every experiment (repeatable)");
            app.add_option("--threads", a->threads, "LibTorch intra-op threads (0 = all cores; default: the configs')");
            app.add_option("--budget-minutes", a->options.budget_minutes,
                           "minutes for the whole reproduction: experiments with a time budget (expect.minutes) that "
                           "no longer fits are skipped, saying why (default 0: no limit)")
                ->envname("DEEPL_REPRODUCE_BUDGET_MINUTES")
                ->check(CLI::NonNegativeNumber);
            app.add_flag("--quiet,-q", a->quiet, "warnings and errors only");
            app.footer(std::string(kExitCodes) +
                       " A result below its target, or over its time budget (expect.minutes), exits 1.");
            return [a] { return reproduce(*a); };
          }};
}

}  // namespace deepl::cli
