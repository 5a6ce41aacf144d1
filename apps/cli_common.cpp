#include "cli_common.h"

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "deepl/core/error.h"
#include "deepl/core/runtime.h"

namespace deepl::cli {

void setup_logging(bool quiet) {
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::info);
}

int run(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  return run_status(app, argc, argv, [&] {
    body();
    return 0;
  });
}

int run_status(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  setup_logging(false);
  keep_freed_memory_for_reuse();  // best effort: a sanitizer's malloc ignores it
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ErrorKind::kUsage);
  }
  try {
    return body();
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    spdlog::error("LibTorch: {}", what.substr(0, what.find('\n')));
    return static_cast<int>(ErrorKind::kFailure);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(ErrorKind::kFailure);
  }
}

}  // namespace deepl::cli

#include "deepl/core/paths.h"
#include "deepl/run/reproduce.h"

namespace deepl::cli {

int notebook_main(int argc, char** argv, const run::Notebook& notebook) {
  CLI::App app{notebook.title + ": look at the data, train and evaluate each experiment, compare with the notebook"};
  app.footer(std::string(kExitCodes) + " A result below its target exits 1.");
  run::ReproduceOptions options;
  std::string out = "runs/" + std::string(argv[0]).substr(std::string(argv[0]).find_last_of('/') + 1);
  std::string experiments;
  app.add_option("--out", out, "output folder (data grid, one run folder per experiment, summary.md/json)");
  app.add_option("--experiments", experiments, "folder of the experiment configs (default: the shipped ones)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--set", options.overrides, "override a key in every experiment (e.g. train.epochs=1)");
  app.add_option("--threads", options.threads, "LibTorch intra-op threads (0 = all cores; default: the configs')");
  app.add_flag("--quiet,-q", options.quiet, "warnings and errors only");
  int code = 0;
  const int status = run(app, argc, argv, [&] {
    if (options.quiet) setup_logging(true);
    options.out_dir = out;
    if (experiments.empty()) experiments = shipped_experiments_folder(locations()).string();
    if (!run::run_notebook(notebook, experiments, options)) code = static_cast<int>(ErrorKind::kFailure);
  });
  return status != 0 ? status : code;
}

}  // namespace deepl::cli
