// `deepl train`: one experiment trained, here or as N data-parallel ranks.
#include <fmt/format.h>

#include "../cli_common.h"
#include "commands.h"
#include "deepl/core/error.h"
#include "deepl/core/paths.h"
#include "deepl/dist/launcher.h"
#include "deepl/dist/world.h"
#include "deepl/run/train_session.h"

namespace deepl::cli {

namespace {

struct TrainArgs {
  ExperimentArgs experiment;
  std::string resume, out_dir;
  int threads = -1, nproc = 0, max_restarts = 0;
  int64_t pause_after_epoch = 0;
  bool quiet = false;
};

// `deepl train ... --nproc N`: re-runs this command line without --nproc as N ranks.
int launch_ranks(const Invocation& invocation, int nproc, int max_restarts) {
  if (dist::world_from_environment().distributed()) {
    throw_usage("--nproc: already running as a rank (WORLD_SIZE is set); launch with either torchrun or --nproc");
  }
  // The ranks get this command line without the launcher's options; a restarted group also
  // without --resume, which becomes --resume auto.
  std::vector<std::string> args, restart_args;
  const auto named = [](const std::string& a, const std::string& name) { return a == name || a.rfind(name + "=", 0) == 0; };
  for (int i = 1; i < invocation.argc; ++i) {
    const std::string a = invocation.argv[i];
    const bool value_follows = a == "--nproc" || a == "--max-restarts" || a == "--resume";
    if (named(a, "--resume")) {
      args.push_back(a);
      if (value_follows && i + 1 < invocation.argc) args.push_back(invocation.argv[i + 1]);
    } else if (!named(a, "--nproc") && !named(a, "--max-restarts")) {
      args.push_back(a);
      restart_args.push_back(a);
    }
    if (value_follows) ++i;
  }
  restart_args.insert(restart_args.end(), {"--resume", "auto"});  // every rank continues from the newest last.pt
  dist::LaunchOptions options;
  options.nproc = nproc;
  options.max_restarts = max_restarts;
  options.restart_args = restart_args;
  return dist::launch_local(current_executable().string(), args, options);
}

void add_options(CLI::App& app, TrainArgs& a) {
  add_experiment_options(app, a.experiment);
  app.add_option("--resume", a.resume,
                 "continue from a checkpoint (e.g. runs/NAME/checkpoints/last.pt), or auto: from the run "
                 "folder's last.pt when there is one, else start fresh (safe to repeat after a crash)")
      ->check(CLI::IsMember({"auto"}) | CLI::ExistingFile);
  app.add_option("--threads", a.threads, "LibTorch intra-op threads (overrides the config; 0 = all cores)");
  app.add_option("--out", a.out_dir, "run folder (default: <output.dir>/<name>)");
  app.add_option("--nproc", a.nproc,
                 "data-parallel: run N ranks on this machine (as torchrun --nproc_per_node N would); "
                 "the config's batch size is the global batch")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-restarts", a.max_restarts,
                 "with --nproc: when a rank fails, restart every rank up to K times, each continuing with "
                 "--resume auto (as torchrun --max_restarts K)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--pause-after-epoch", a.pause_after_epoch,
                 "stop after epoch K with last.pt written, keeping the schedule of all train.epochs; --resume "
                 "continues (what a halving sweep does between rungs)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--quiet,-q", a.quiet, "warnings and errors only");
}

run::TrainOptions train_options(const TrainArgs& a, const Invocation& invocation) {
  run::TrainOptions o;
  o.quiet = a.quiet;
  o.pause_after_epoch = a.pause_after_epoch;
  if (a.resume == "auto") o.resume_auto = true;
  else if (!a.resume.empty()) o.resume = a.resume;
  if (!a.out_dir.empty()) o.run_dir = a.out_dir;
  o.world = dist::world_from_environment();
  if (invocation.hooks.training_callbacks) o.callbacks = invocation.hooks.training_callbacks();
  return o;
}

std::string test_score(const eval::Metrics& test) {
  if (test.regression) return fmt::format("test r2 {:.4f}", test.regression->r2);
  return fmt::format("test accuracy {:.4f}", test.accuracy);
}

int report(const config::Experiment& exp, const run::TrainOptions& o, const run::TrainResult& result) {
  if (result.interrupted_by != 0) return 128 + result.interrupted_by;  // 130 SIGINT, 143 SIGTERM
  if (result.already_finished) {
    if (o.world.rank == 0) {
      fmt::print("{}: already finished ({}); run folder {}\n", exp.name, test_score(result.test),
                 result.run_dir.string());
    }
    return 0;
  }
  if (!result.evaluated) return 0;  // rank 0 reports
  fmt::print("{}: {} after {} epochs in {:.1f}s; run folder {}\n", exp.name, test_score(result.test),
             result.history.size(), result.wall_seconds, result.run_dir.string());
  return 0;
}

}  // namespace

Subcommand train_command() {
  return {"train", "train an experiment, then evaluate its best checkpoint on the test set",
          [](CLI::App& app, const Invocation& invocation) -> Runner {
            auto a = std::make_shared<TrainArgs>();
            add_options(app, *a);
            return [a, invocation] {
              if (a->quiet) setup_logging(true);
              if (a->nproc > 0) return launch_ranks(invocation, a->nproc, a->max_restarts);
              if (a->max_restarts > 0) throw_usage("--max-restarts: only with --nproc (torchrun has --max_restarts)");
              auto exp = load_experiment(a->experiment);
              if (a->threads >= 0) exp.threads = a->threads;
              const run::TrainOptions o = train_options(*a, invocation);
              return report(exp, o, run::train_experiment(exp, o));
            };
          }};
}

}  // namespace deepl::cli
