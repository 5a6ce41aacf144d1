#pragma once
// Where deepl finds what it ships and what it reads: the experiments, the data fetcher, the data.
// deepl runs from a clone (build/apps/deepl), from an install prefix (bin/deepl next to
// share/deepl/) or inside another program linking the library; these functions find the files in
// each case, from the current folder and the running executable's location.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace deepl {

/// The places deepl looks in, found once per call of locations(); tests build their own.
struct Locations {
  std::filesystem::path current;                        // the working folder
  std::optional<std::filesystem::path> installed;       // share/deepl: <exe>/../share, the configured prefix,
                                                        // $XDG_DATA_DIRS (none for a binary in a clone's build tree)
  std::optional<std::filesystem::path> clone;           // the source clone run from (cwd or executable inside it)
  std::optional<std::filesystem::path> data_env;        // $DEEPL_DATA
  std::optional<std::filesystem::path> xdg_data_home;   // $XDG_DATA_HOME
  std::optional<std::filesystem::path> home;            // $HOME
};

/// The running process's locations.
Locations locations();
/// This executable's path (/proc/self/exe).
std::filesystem::path current_executable();
/// True when `dir` is a deepl source clone (experiments/ and data/SHA256SUMS in it).
bool is_clone(const std::filesystem::path& dir);

/// The folders shipped experiments are looked up in, in order: the current folder, the installed
/// share/deepl/experiments, the clone's experiments/ (each + `subfolder`, e.g. "basics"), where present.
std::vector<std::filesystem::path> experiment_folders(const Locations& where, const std::string& subfolder = "");
/// The folder holding the shipped experiments (installed, else the clone's); a usage error when neither exists.
std::filesystem::path shipped_experiments_folder(const Locations& where, const std::string& subfolder = "");
/// `--config` argument to file: an existing path as given, else a shipped experiment's name with or
/// without ".json" from experiment_folders(); an unknown name is a usage error listing the known ones.
std::filesystem::path find_experiment(const std::string& name_or_path, const Locations& where,
                                      const std::string& subfolder = "");
/// The data folder: `configured` (data.root / --root) when given, else $DEEPL_DATA, else the clone's
/// data/, else $XDG_DATA_HOME/deepl (default ~/.local/share/deepl).
std::filesystem::path data_folder(const std::string& configured, const Locations& where);
/// The shipped data fetcher (share/deepl/fetch installed, else the clone's data/fetch).
std::filesystem::path data_fetcher(const Locations& where);

}  // namespace deepl
