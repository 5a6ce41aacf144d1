// Looking at things without training: `deepl config`, `deepl model`, `deepl data`, `deepl info`.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "deepl/config/config.h"
#include "deepl/core/system_info.h"
#include "deepl/data/dataset.h"
#include "deepl/run/checkpoint_use.h"
#include "deepl/run/data_views.h"
#include "deepl/run/sweep.h"

namespace deepl::cli {

namespace {

struct DataArgs {
  std::string dataset = "mnist", root, split = "test", out;
  std::vector<std::string> fetch;
  int count = 64;
  uint64_t seed = 0;
};

int show_data(const DataArgs& a) {
  const std::string out = a.out.empty() ? fmt::format("{}_{}_grid.png", a.dataset, a.split) : a.out;
  run::write_data_grid(a.dataset, a.split, a.count, a.seed, out, a.root);
  fmt::print("wrote {}\n", out);
  return 0;
}

}  // namespace

Subcommand config_command() {
  return {"config", "print a resolved experiment config, or the reference of every key",
          [](CLI::App& app, const Invocation&) -> Runner {
            app.require_subcommand(1);
            auto a = std::make_shared<ExperimentArgs>();
            auto* show = app.add_subcommand("show", "print the fully resolved config");
            add_experiment_options(*show, *a);
            auto* docs = app.add_subcommand("docs", "print the reference tables of every experiment and sweep file key");
            return dispatch({{show,
                              [a] {
                                std::cout << load_experiment(*a).json.dump(2) << "\n";
                                return 0;
                              }},
                             {docs, [] {
                                std::cout << config::reference_markdown() << "\nSweep files (`deepl sweep --config`):\n\n"
                                          << run::sweep_reference_markdown();
                                return 0;
                              }}});
          }};
}

Subcommand model_command() {
  return {"model", "an experiment's model: layers, output shapes, parameters and FLOPs",
          [](CLI::App& app, const Invocation&) -> Runner {
            app.require_subcommand(1);
            auto a = std::make_shared<ExperimentArgs>();
            auto* summary = app.add_subcommand("summary", "layers, output shapes, parameters and FLOPs per example");
            add_experiment_options(*summary, *a);
            return dispatch({{summary, [a] {
                                std::cout << run::model_summary(load_experiment(*a));
                                return 0;
                              }}});
          }};
}

Subcommand data_command() {
  return {"data", "fetch the data sets, look at them (image grid) and their statistics",
          [](CLI::App& app, const Invocation&) -> Runner {
            app.require_subcommand(1);
            auto a = std::make_shared<DataArgs>();
            auto* show = app.add_subcommand("show", "write a PNG grid of images with their labels");
            auto* stats = app.add_subcommand("stats", "counts per class, pixel mean/std, image size");
            for (auto* sub : {show, stats}) {
              sub->add_option("--dataset", a->dataset, "data set")->check(CLI::IsMember(data::dataset_names()));
              sub->add_option("--root", a->root, kDataRootHelp);
            }
            auto* fetch = app.add_subcommand("fetch", "download and verify data sets (sha256) into the data folder");
            fetch->add_option("datasets", a->fetch, "mnist, fashion-mnist (default: both)")
                ->check(CLI::IsMember(data::dataset_names()));
            fetch->add_option("--root", a->root, kDataRootHelp);
            show->add_option("--split", a->split, "train or test")->check(CLI::IsMember({"train", "test"}));
            show->add_option("--n", a->count, "number of images");
            show->add_option("--seed", a->seed, "which images (seeded pick)");
            show->add_option("--out", a->out, "PNG file (default: <dataset>_<split>_grid.png)");
            return dispatch({{show, [a] { return show_data(*a); }},
                             {stats,
                              [a] {
                                std::cout << run::data_stats(a->dataset, a->root);
                                return 0;
                              }},
                             {fetch, [a] {
                                fmt::print("data folder: {}\n", run::fetch_data(a->fetch, a->root).string());
                                return 0;
                              }}});
          }};
}

Subcommand info_command() {
  return {"info", "versions, LibTorch build, CPU, BLAS, oneDNN, threads, CUDA: paste this into bug reports",
          [](CLI::App& app, const Invocation&) -> Runner {
            auto as_json = std::make_shared<bool>(false);
            app.add_flag("--json", *as_json, "one JSON object instead of text");
            return [as_json] {
              std::cout << (*as_json ? system_info().dump(2) + "\n" : system_report());
              return 0;
            };
          }};
}

}  // namespace deepl::cli
