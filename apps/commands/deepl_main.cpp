#include "commands.h"

#include "../cli_common.h"
#include "deepl/core/error.h"
#include "deepl/core/paths.h"
#include "deepl/core/runtime.h"

namespace deepl::cli {

std::vector<Subcommand> subcommands() {
  return {train_command(), eval_command(),      predict_command(), export_command(),
          runs_command(),  sweep_command(),     reproduce_command(), config_command(),
          model_command(), data_command(),      info_command()};
}

Runner dispatch(std::vector<std::pair<CLI::App*, Runner>> subcommands) {
  return [subcommands] {
    for (const auto& [sub, runner] : subcommands) {
      if (*sub) return runner();
    }
    return 0;
  };
}

config::Experiment load_named_experiment(const std::string& config, const std::vector<std::string>& overrides) {
  return config::load_experiment(find_experiment(config, locations()), overrides);
}

void add_experiment_options(CLI::App& app, ExperimentArgs& a) {
  auto* config = app.add_option("--config,-c", a.config, kConfigHelp);
  auto* data = app.add_option("--data", a.data,
                              "train on your own data without a config: a folder of pictures in class sub-folders "
                              "(or with train/ and test/), a folder of IDX files, or a .csv table (with --target); "
                              "`deepl config show --data PATH` prints the config it stands for");
  config->excludes(data);
  app.add_option("--model", a.model, "with --data: the model type (default auto: one chosen for the data)")->needs(data);
  app.add_option("--target", a.target, "with --data TABLE.csv: the label column")->needs(data);
  app.add_option("--set", a.overrides, "override a config key: --set optimizer.lr=0.01 (repeatable)");
}

config::Experiment load_experiment(const ExperimentArgs& a) {
  if (a.config.empty() && a.data.empty()) throw_usage("--config or --data is required");
  if (a.data.empty()) return load_named_experiment(a.config, a.overrides);
  return config::resolve_experiment(config::config_for_data(a.data, a.model, a.target), a.overrides, "--data " + a.data);
}

int deepl_main(int argc, char** argv, const ProgramHooks& hooks) {
  CLI::App app{"deepl: train, evaluate and inspect deep-learning experiments on LibTorch"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", deepl_version() + " (LibTorch " + libtorch_version() + ")");
  app.require_subcommand(1);
  const Invocation invocation{argc, argv, hooks};
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const Subcommand& command : subcommands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    sub->footer(kExitCodes);
    runners.emplace_back(sub, command.add(*sub, invocation));
  }
  return run_status(app, argc, argv, dispatch(std::move(runners)));
}

}  // namespace deepl::cli
