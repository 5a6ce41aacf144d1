#include "commands.h"

#include "../cli_common.h"
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
