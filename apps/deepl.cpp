// deepl: the umbrella CLI. Parses, calls the library, reports; no training logic here.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>

#include "cli_common.h"
#include "deepl/config/config.h"
#include "deepl/core/error.h"
#include "deepl/core/paths.h"
#include "deepl/core/runtime.h"
#include "deepl/core/signals.h"
#include "deepl/core/system_info.h"
#include "deepl/data/dataset.h"
#include "deepl/dist/launcher.h"
#include "deepl/dist/world.h"
#include "deepl/run/data_views.h"
#include "deepl/run/experiment.h"
#include "deepl/run/reproduce.h"
#include "deepl/run/runs.h"
#include "deepl/run/sweep.h"

namespace {

// `deepl train ... --nproc N`: re-runs this command line without --nproc as N ranks.
int launch_ranks(int argc, char** argv, int nproc, int max_restarts) {
  using namespace deepl;
  if (dist::world_from_environment().distributed()) {
    throw_usage("--nproc: already running as a rank (WORLD_SIZE is set); launch with either torchrun or --nproc");
  }
  // The ranks get this command line without the launcher's options; a restarted group also
  // without --resume, which becomes --resume auto.
  std::vector<std::string> args, restart_args;
  const auto named = [](const std::string& a, const std::string& name) { return a == name || a.rfind(name + "=", 0) == 0; };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool value_follows = a == "--nproc" || a == "--max-restarts" || a == "--resume";
    if (named(a, "--resume")) {
      args.push_back(a);
      if (value_follows && i + 1 < argc) args.push_back(argv[i + 1]);
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

constexpr const char* kConfigHelp =
    "experiment: a JSON file, or a shipped experiment's name (mlp_mnist, ...) looked up in the current folder, "
    "the installed experiments, the clone's experiments/";
constexpr const char* kDataRootHelp =
    "data folder (default: $DEEPL_DATA, else the clone's data/, else $XDG_DATA_HOME/deepl or ~/.local/share/deepl)";

}  // namespace

int main(int argc, char** argv) {
  using namespace deepl;
  CLI::App app{"deepl: train, evaluate and inspect deep-learning experiments on LibTorch"};
  app.footer(cli::kExitCodes);
  app.set_version_flag("--version", deepl_version() + " (LibTorch " + libtorch_version() + ")");
  app.require_subcommand(1);

  std::string config_path, checkpoint, input, split = "test", out_dir, dataset = "mnist", data_root;
  std::vector<std::string> overrides;
  std::string resume;
  bool quiet = false;
  int threads = -1, count = 64, nproc = 0;
  uint64_t seed = 0;

  auto* train = app.add_subcommand("train", "train an experiment, then evaluate its best checkpoint on the test set");
  train->add_option("--config,-c", config_path, kConfigHelp)->required();
  train->add_option("--set", overrides, "override a config key: --set optimizer.lr=0.01 (repeatable)");
  train->add_option("--resume", resume,
                    "continue from a checkpoint (e.g. runs/NAME/checkpoints/last.pt), or auto: from the run "
                    "folder's last.pt when there is one, else start fresh (safe to repeat after a crash)")
      ->check(CLI::IsMember({"auto"}) | CLI::ExistingFile);
  train->add_option("--threads", threads, "LibTorch intra-op threads (overrides the config; 0 = all cores)");
  train->add_option("--out", out_dir, "run folder (default: <output.dir>/<name>)");
  train->add_option("--nproc", nproc,
                    "data-parallel: run N ranks on this machine (as torchrun --nproc_per_node N would); "
                    "the config's batch size is the global batch")
      ->check(CLI::Range(1, 1024));
  int max_restarts = 0;
  train->add_option("--max-restarts", max_restarts,
                    "with --nproc: when a rank fails, restart every rank up to K times, each continuing with "
                    "--resume auto (as torchrun --max_restarts K)")
      ->check(CLI::Range(0, 1000));
  int64_t pause_after_epoch = 0;
  train->add_option("--pause-after-epoch", pause_after_epoch,
                    "stop after epoch K with last.pt written, keeping the schedule of all train.epochs; --resume "
                    "continues (what a halving sweep does between rungs)")
      ->check(CLI::PositiveNumber);
  train->add_flag("--quiet,-q", quiet, "warnings and errors only");
  train->footer(cli::kExitCodes);

  auto* evaluate = app.add_subcommand("eval", "evaluate a checkpoint; writes metrics and the confusion matrix");
  evaluate->add_option("--checkpoint", checkpoint, "checkpoint file")->required()->check(CLI::ExistingFile);
  evaluate->add_option("--split", split, "test or val")->check(CLI::IsMember({"test", "val"}));
  evaluate->add_option("--out", out_dir, "report folder (default: <run>/eval-<split>)");
  evaluate->add_option("--threads", threads, "LibTorch intra-op threads (0 = all cores)");
  std::vector<std::string> tta;
  evaluate->add_option("--tta", tta,
                       "test-time augmentation in place of the run's eval.tta: hflip, shift, both "
                       "(hflip,shift) or none")
      ->delimiter(',');
  evaluate->add_flag("--quiet,-q", quiet, "warnings and errors only");
  evaluate->footer(cli::kExitCodes);

  run::PredictOptions predict_options;
  std::string save_inputs;
  auto* predict = app.add_subcommand(
      "predict", "top-k classes of images: an IDX file, PNG/JPEG/BMP/PGM files or a folder of them; framed as the "
                 "model's data set was (MNIST: inverted if dark on light, cropped, fitted to 20x20, centred)");
  predict->add_option("--checkpoint", checkpoint, "checkpoint file")->required()->check(CLI::ExistingFile);
  predict->add_option("--input", input, "IDX images (raw or .gz), an image file, or a folder of images")
      ->required()
      ->check(CLI::ExistingPath);
  predict->add_option("--top-k", predict_options.top_k, "classes per image")->check(CLI::PositiveNumber);
  predict->add_flag("--recursive,-r", predict_options.recursive, "a folder: its sub-folders too");
  predict->add_option("--invert", predict_options.invert,
                      "image files: make dark-on-light pictures light-on-dark like MNIST (auto: when the border is light)")
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  predict->add_option("--format", predict_options.format, "jsonl (one JSON object per image) or table")
      ->check(CLI::IsMember({"jsonl", "table"}));
  predict->add_option("--save-inputs", save_inputs, "write what the model saw (after framing) as PNGs into this folder");
  predict->add_flag("--quiet,-q", quiet, "warnings and errors only");
  predict->footer(cli::kExitCodes);

  std::string only, experiments_dir;
  run::ReproduceOptions reproduce_options;
  auto* reproduce = app.add_subcommand(
      "reproduce", "run every shipped experiment, print the results table, fail if one is below its target");
  reproduce->add_option("--only", only, "one experiment by name (e.g. cnn_mnist)");
  reproduce->add_option("--out", out_dir, "output folder (default: runs/reproduce)");
  reproduce->add_option("--experiments", experiments_dir, "folder of the experiment configs (default: the shipped ones)")
      ->check(CLI::ExistingDirectory);
  reproduce->add_option("--set", overrides, "override a key in every experiment (repeatable)");
  reproduce->add_option("--threads", threads, "LibTorch intra-op threads (0 = all cores; default: the configs')");
  reproduce->add_option("--budget-minutes", reproduce_options.budget_minutes,
                        "minutes for the whole reproduction: experiments with a time budget (expect.minutes) that "
                        "no longer fits are skipped, saying why (default 0: no limit)")
      ->envname("DEEPL_REPRODUCE_BUDGET_MINUTES")
      ->check(CLI::NonNegativeNumber);
  reproduce->add_flag("--quiet,-q", quiet, "warnings and errors only");
  reproduce->footer(std::string(cli::kExitCodes) +
                    " A result below its target, or over its time budget (expect.minutes), exits 1.");

  auto* exporter = app.add_subcommand("export", "write a checkpoint's weights as a PyTorch state dict (.pth)");
  exporter->add_option("--checkpoint", checkpoint, "checkpoint file")->required()->check(CLI::ExistingFile);
  exporter->add_option("--out", out_dir, "output .pth file")->required();
  exporter->footer(cli::kExitCodes);

  auto* cfg = app.add_subcommand("config", "experiment configs");
  cfg->require_subcommand(1);
  auto* cfg_show = cfg->add_subcommand("show", "print the fully resolved config");
  cfg_show->add_option("--config,-c", config_path, kConfigHelp)->required();
  cfg_show->add_option("--set", overrides, "override a config key (repeatable)");
  auto* cfg_docs = cfg->add_subcommand("docs", "print the reference tables of every experiment and sweep file key");

  auto* model = app.add_subcommand("model", "models");
  model->require_subcommand(1);
  auto* summary = model->add_subcommand("summary", "layers, output shapes, parameters and FLOPs per example");
  summary->add_option("--config,-c", config_path, kConfigHelp)->required();
  summary->add_option("--set", overrides, "override a config key (repeatable)");

  auto* data = app.add_subcommand("data", "look at the data sets");
  data->require_subcommand(1);
  auto* show = data->add_subcommand("show", "write a PNG grid of images with their labels");
  auto* stats = data->add_subcommand("stats", "counts per class, pixel mean/std, image size");
  for (auto* sub : {show, stats}) {
    sub->add_option("--dataset", dataset, "data set")->check(CLI::IsMember(data::dataset_names()));
    sub->add_option("--root", data_root, kDataRootHelp);
  }
  std::vector<std::string> fetch_names;
  auto* fetch = data->add_subcommand("fetch", "download and verify data sets (sha256) into the data folder");
  fetch->add_option("datasets", fetch_names, "mnist, fashion-mnist (default: both)")
      ->check(CLI::IsMember(data::dataset_names()));
  fetch->add_option("--root", data_root, kDataRootHelp);
  show->add_option("--split", split, "train or test")->check(CLI::IsMember({"train", "test"}));
  show->add_option("--n", count, "number of images");
  show->add_option("--seed", seed, "which images (seeded pick)");
  show->add_option("--out", out_dir, "PNG file (default: <dataset>_<split>_grid.png)");

  std::string runs_dir = "runs", runs_format = "table", runs_html;
  run::RunsQuery runs_query;
  auto* runs = app.add_subcommand("runs", "list the run folders under DIR (recursively) as a table, or compare them "
                                          "on an HTML page");
  runs->add_option("dir", runs_dir, "folder of run folders (default: runs)");
  runs->add_option("--sort", runs_query.sort,
                   "column to sort by, -COLUMN for descending: name, model, status, epochs, best_val_accuracy, "
                   "test_accuracy, wall_seconds, started (default), path");
  runs->add_option("--filter", runs_query.filters,
                   "keep runs where KEY=VALUE; KEY is a column or a dotted config key (model.type, optimizer.lr); "
                   "repeatable, all must match");
  runs->add_option("--format", runs_format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  runs->add_option("--html", runs_html, "write a comparison page (table, validation curves, config differences)");
  runs->footer(cli::kExitCodes);

  run::SweepOptions sweep_options;
  int sweep_trial = -1;
  bool list_trials = false, summarize = false;
  auto* sweep = app.add_subcommand(
      "sweep", "hyper-parameter search from a sweep file: grid, random or successive halving; trials run as "
               "`deepl train` processes, --jobs at a time, into <out>/trials/; the same command continues a sweep");
  sweep->add_option("--config,-c", config_path,
                    "sweep file: a JSON file or a shipped sweep's name (mlp_mnist_lr, ...) from experiments/sweeps/")
      ->required();
  sweep->add_option("--jobs,-j", sweep_options.jobs, "trials at a time (default: the sweep file's jobs)")
      ->check(CLI::Range(1, 1024));
  sweep->add_option("--out", out_dir, "sweep folder (default: <output.dir>/<name>)");
  sweep->add_option("--set", overrides, "override a config key in every trial: --set train.epochs=2 (repeatable)");
  sweep->add_option("--threads", threads, "LibTorch threads per trial (default: cores / jobs; 0 = all cores)");
  sweep->add_flag("--list", list_trials, "print the trials (index, status, folder, values) and exit");
  sweep->add_option("--trial", sweep_trial,
                    "run trial K alone (grid, random), e.g. one SLURM array task: sbatch --array=0-N; then --summarize")
      ->check(CLI::NonNegativeNumber);
  sweep->add_flag("--summarize", summarize, "read the trial folders, write summary.{csv,md}, best.json, sweep.png");
  sweep->add_flag("--retry-failed", sweep_options.retry_failed, "run failed trials again");
  sweep->add_flag("--quiet,-q", quiet, "warnings and errors only");
  sweep->footer(std::string(cli::kExitCodes) + " A stopped sweep exits 128 + the signal; --trial K exits 1 when the "
                                               "trial failed.");

  bool as_json = false;
  auto* info = app.add_subcommand("info", "versions, LibTorch build, CPU (native bf16?), BLAS, oneDNN, threads, CUDA: "
                                          "paste this into bug reports");
  info->add_flag("--json", as_json, "one JSON object instead of text");

  // --config: a path, or a shipped experiment's name.
  auto load_config = [&] { return config::load_experiment(find_experiment(config_path, locations()), overrides); };
  return cli::run_status(app, argc, argv, [&] {
    if (quiet) cli::setup_logging(true);
    if (*train && nproc > 0) return launch_ranks(argc, argv, nproc, max_restarts);
    if (*train && max_restarts > 0) throw_usage("--max-restarts: only with --nproc (torchrun has --max_restarts)");
    if (*train) {
      auto exp = load_config();
      if (threads >= 0) exp.threads = threads;
      run::TrainOptions o;
      o.quiet = quiet;
      o.pause_after_epoch = pause_after_epoch;
      if (resume == "auto") o.resume_auto = true;
      else if (!resume.empty()) o.resume = resume;
      if (!out_dir.empty()) o.run_dir = out_dir;
      o.world = dist::world_from_environment();
      const auto result = run::train_experiment(exp, o);
      if (result.interrupted_by != 0) return 128 + result.interrupted_by;  // 130 SIGINT, 143 SIGTERM
      if (result.already_finished) {
        if (o.world.rank == 0) {
          fmt::print("{}: already finished (test accuracy {:.4f}); run folder {}\n", exp.name, result.test.accuracy,
                     result.run_dir.string());
        }
        return 0;
      }
      if (!result.evaluated) return 0;  // rank 0 reports
      fmt::print("{}: test accuracy {:.4f} after {} epochs in {:.1f}s; run folder {}\n", exp.name, result.test.accuracy,
                 result.history.size(), result.wall_seconds, result.run_dir.string());
    } else if (*evaluate) {
      run::EvalOptions o;
      o.split = split;
      o.threads = std::max(0, threads);
      o.quiet = quiet;
      if (!out_dir.empty()) o.out_dir = out_dir;
      if (!tta.empty()) o.tta = tta == std::vector<std::string>{"none"} ? std::vector<std::string>{} : tta;
      const auto m = run::evaluate_checkpoint(checkpoint, o);
      fmt::print("{} {}: accuracy {:.4f} loss {:.4f} macro-F1 {:.4f} ({} examples)\n", checkpoint, split, m.accuracy,
                 m.loss, m.macro_f1, m.examples);
    } else if (*reproduce) {
      reproduce_options.out_dir = out_dir.empty() ? "runs/reproduce" : out_dir;
      reproduce_options.quiet = quiet;
      reproduce_options.threads = threads;
      reproduce_options.overrides = overrides;
      if (experiments_dir.empty()) experiments_dir = shipped_experiments_folder(locations()).string();
      const auto rows = run::reproduce(run::shipped_experiments(experiments_dir, only), "deepl reproduce", reproduce_options);
      fmt::print("{}", run::summary_markdown("deepl reproduce", rows, configure_threads(std::max(0, threads))));
      for (const auto& r : rows) {
        if (!r.passed()) throw Error(ErrorKind::kFailure, fmt::format("{}: {}", r.name, r.status));
      }
    } else if (*exporter) {
      run::export_weights(checkpoint, out_dir);
      fmt::print("wrote {} (load in Python with torch.load and load_state_dict)\n", out_dir);
    } else if (*predict) {
      if (!save_inputs.empty()) predict_options.save_inputs = save_inputs;
      const auto predicted = run::predict(checkpoint, input, predict_options, std::cout);
      if (predicted.failed > 0) {
        spdlog::error("{} of {} image files could not be predicted (see above)", predicted.failed,
                      predicted.failed + predicted.predicted);
        return 1;
      }
    } else if (*cfg_show) {
      std::cout << load_config().json.dump(2) << "\n";
    } else if (*cfg_docs) {
      std::cout << config::reference_markdown() << "\nSweep files (`deepl sweep --config`):\n\n"
                << run::sweep_reference_markdown();
    } else if (*summary) {
      std::cout << run::model_summary(load_config());
    } else if (*show) {
      const std::string out = out_dir.empty() ? fmt::format("{}_{}_grid.png", dataset, split) : out_dir;
      run::write_data_grid(dataset, split, count, seed, out, data_root);
      fmt::print("wrote {}\n", out);
    } else if (*stats) {
      std::cout << run::data_stats(dataset, data_root);
    } else if (*fetch) {
      fmt::print("data folder: {}\n", run::fetch_data(fetch_names, data_root).string());
    } else if (*runs) {
      const auto rows = run::list_runs(runs_dir, runs_query);
      if (runs_html.empty()) {
        std::cout << run::format_runs(rows, runs_format);
      } else {
        run::write_runs_page(runs_html, rows, "deepl runs: " + runs_dir);
        fmt::print("wrote {} ({} runs)\n", runs_html, rows.size());
      }
    } else if (*sweep) {
      const auto found = find_experiment(config_path, locations(), "sweeps");
      std::optional<std::filesystem::path> sweep_dir;
      if (!out_dir.empty()) sweep_dir = out_dir;
      const auto spec = run::load_sweep(found, overrides, sweep_dir);
      if (list_trials) {
        std::cout << run::list_trials(spec);
        return 0;
      }
      if (summarize) {
        std::cout << run::summary_markdown(spec, run::summarize_sweep(spec));
      } else {
        sweep_options.quiet = quiet;
        sweep_options.threads = threads;
        sweep_options.program = current_executable();
        if (sweep_trial >= 0) sweep_options.only_trial = sweep_trial;
        const auto ran = run::run_sweep(spec, sweep_options);
        if (ran.interrupted_by != 0) {
          spdlog::warn("sweep stopped by {}: {} trial run(s) left; the same command continues",
                       signal_name(ran.interrupted_by), ran.trials_left);
          return 128 + ran.interrupted_by;
        }
        if (sweep_trial >= 0) {
          return run::read_trial_outcome(spec, run::expand_trials(spec).at(sweep_trial)).status == "failed" ? 1 : 0;
        }
        std::cout << run::summary_markdown(spec, ran.summary);
      }
    } else if (*info) {
      std::cout << (as_json ? system_info().dump(2) + "\n" : system_report());
    }
    return 0;
  });
}
