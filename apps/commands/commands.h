#pragma once
// The `deepl` program as a table of subcommands. Each subcommand registers its own options in its
// own file and returns what runs it; deepl_main parses and dispatches. No training logic here.
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deepl/config/config.h"
#include "deepl/train/trainer.h"

namespace deepl::cli {

/// What a program built on these subcommands may add to them. The deepl binary adds nothing; test
/// programs install callbacks in every training session (fault injection) through it.
struct ProgramHooks {
  std::function<std::vector<std::shared_ptr<train::Callback>>()> training_callbacks;
};

/// The command line and hooks of the running program.
struct Invocation {
  int argc = 0;
  char** argv = nullptr;
  ProgramHooks hooks;
};

/// Runs a parsed subcommand; returns its exit status.
using Runner = std::function<int()>;

/// One subcommand: its name, its one-line description for `deepl --help`, and `add`, which
/// registers its options on its (already created) CLI11 app and returns its runner.
struct Subcommand {
  std::string name;
  std::string description;
  std::function<Runner(CLI::App& app, const Invocation& invocation)> add;
};

Subcommand train_command();
Subcommand eval_command();
Subcommand predict_command();
Subcommand export_command();
Subcommand runs_command();
Subcommand sweep_command();
Subcommand reproduce_command();
Subcommand config_command();
Subcommand model_command();
Subcommand data_command();
Subcommand info_command();

/// The runner of whichever of `subcommands` the command line chose (0 when none was).
Runner dispatch(std::vector<std::pair<CLI::App*, Runner>> subcommands);

/// Every subcommand, in the order `deepl --help` lists them.
std::vector<Subcommand> subcommands();

/// The whole `deepl` program: parse, run the chosen subcommand, map errors to exit codes.
int deepl_main(int argc, char** argv, const ProgramHooks& hooks = {});

constexpr const char* kConfigHelp =
    "experiment: a JSON file, or a shipped experiment's name (mlp_mnist, ...) looked up in the current folder, "
    "the installed experiments, the clone's experiments/";
constexpr const char* kDataRootHelp =
    "data folder (default: $DEEPL_DATA, else the clone's data/, else $XDG_DATA_HOME/deepl or ~/.local/share/deepl)";

/// Loads an experiment named by --config (a path or a shipped experiment's name) with --set overrides.
config::Experiment load_named_experiment(const std::string& config, const std::vector<std::string>& overrides);

/// Where a command's experiment comes from: --config, or --data (with --model), and --set.
struct ExperimentArgs {
  std::string config, data, model = "auto", target;
  std::vector<std::string> overrides;
};
/// Adds --config, --data, --model, --target and --set; one of --config and --data is required.
void add_experiment_options(CLI::App& app, ExperimentArgs& a);
/// The experiment the options name, overrides applied and validated.
config::Experiment load_experiment(const ExperimentArgs& a);

}  // namespace deepl::cli
