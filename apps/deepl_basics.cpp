// deepl-basics: notebook 1 (regression, logistic regression, autodiff, 2-D optimisation).
#include <fmt/format.h>

#include <algorithm>

#include "cli_common.h"
#include "deepl/basics/basics.h"
#include "deepl/core/error.h"
#include "deepl/core/json_util.h"
#include "deepl/core/paths.h"

namespace {
// The shipped config whose settings a CSV run without --config uses.
std::string default_csv_config(const std::string& part) { return part == "linear" ? "linear_multi" : "logistic_blobs"; }
}  // namespace

int main(int argc, char** argv) {
  using namespace deepl;
  CLI::App app{"deepl-basics: notebook 1 (regression, logistic regression, automatic differentiation, 2-D optimisation)"};
  app.footer(cli::kExitCodes);
  app.require_subcommand(1);
  std::string config, out, csv, x_columns, y_column, experiments;
  bool quiet = false;
  std::vector<CLI::App*> parts;
  for (const auto& part : basics::part_names()) {
    auto* sub = app.add_subcommand(part, "run the " + part + " part from a config");
    auto* config_option = sub->add_option("--config,-c", config,
                                          "config: a JSON file, or a shipped one's name (experiments/basics/*.json)");
    if (part != "linear" && part != "logistic") config_option->required();
    sub->add_option("--out", out, "run folder (default: <output.dir>/<name>)");
    sub->add_flag("--quiet,-q", quiet, "warnings and errors only");
    if (part == "linear" || part == "logistic") {
      sub->add_option("--csv", csv,
                      "read the data from a CSV file with a header row (without --config, the settings of the shipped " +
                          default_csv_config(part) + ")")
          ->check(CLI::ExistingFile);
      sub->add_option("--x", x_columns, "input columns, comma-separated (with --csv)");
      sub->add_option("--y", y_column, "target column (with --csv)");
    }
    parts.push_back(sub);
  }
  auto* all = app.add_subcommand("all", "run every config in experiments/basics/ and print a summary table");
  all->add_option("--experiments", experiments, "folder of the configs (default: the shipped ones)")
      ->check(CLI::ExistingDirectory);
  all->add_option("--out", out, "parent folder of the run folders (default: each config's output.dir)");
  all->add_flag("--quiet,-q", quiet, "warnings and errors only");

  return cli::run(app, argc, argv, [&] {
    if (quiet) cli::setup_logging(true);
    const Locations where = locations();
    if (*all) {
      if (experiments.empty()) experiments = shipped_experiments_folder(where, "basics").string();
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(experiments))
        if (e.path().extension() == ".json") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      fmt::print("| config | part | result |\n|---|---|---|\n");
      for (const auto& f : files) {
        std::optional<std::filesystem::path> dir;
        if (!out.empty()) dir = std::filesystem::path(out) / f.stem();
        const auto r = basics::run_config_file(f, dir);
        fmt::print("| {} | {} | {} |\n", f.filename().string(), r.part, r.summary);
      }
      return;
    }
    for (auto* sub : parts) {
      if (!*sub) continue;
      const bool csv_defaults = config.empty();
      if (csv_defaults && csv.empty()) throw_usage(sub->get_name() + ": give --config, or --csv with --x and --y");
      const std::filesystem::path file =
          find_experiment(csv_defaults ? default_csv_config(sub->get_name()) : config, where, "basics");
      nlohmann::json raw = read_json_file(file);
      if (csv_defaults) {
        raw["name"] = std::filesystem::path(csv).stem().string();
        raw["description"] = fmt::format("{} on {} (settings of the shipped {})", sub->get_name(), csv, file.stem().string());
      }
      auto cfg = basics::resolve_config(raw, file.string());
      if (cfg.value("part", "") != sub->get_name()) {
        throw_usage(fmt::format("{}: /part is \"{}\", but the command is \"{}\"", file.string(), cfg.value("part", ""),
                                sub->get_name()));
      }
      std::optional<basics::CsvSource> source;
      if (!csv.empty()) {
        if (x_columns.empty() || y_column.empty()) throw_usage("--csv needs --x col1,col2 and --y target");
        basics::CsvSource s{csv, {}, y_column};
        for (size_t start = 0; start <= x_columns.size();) {
          const size_t comma = std::min(x_columns.find(',', start), x_columns.size());
          s.x.push_back(x_columns.substr(start, comma - start));
          start = comma + 1;
        }
        source = s;
      }
      std::optional<std::filesystem::path> dir;
      if (!out.empty()) dir = out;
      const auto r = basics::run_part(cfg, dir, source);
      fmt::print("{} ({}): {}\n{}\nrun folder: {}\n", r.name, r.part, r.summary, r.results.dump(2), r.run_dir.string());
    }
  });
}
