#include "deepl/core/paths.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "deepl/core/error.h"

#ifndef DEEPL_INSTALL_DATADIR
#define DEEPL_INSTALL_DATADIR ""
#endif

namespace fs = std::filesystem;

namespace deepl {

namespace {

std::optional<fs::path> environment_path(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return fs::path(value);
}

bool is_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::optional<fs::path> enclosing_clone(fs::path dir) {
  for (; !dir.empty(); dir = dir.parent_path()) {
    if (is_clone(dir)) return dir;
    if (dir == dir.root_path()) break;
  }
  return std::nullopt;
}

// <prefix>/share/deepl for an executable in <prefix>/bin (relocatable), else the prefix the
// library was configured with, else share/deepl in $XDG_DATA_DIRS (/usr/local/share, /usr/share):
// programs linking the installed library live elsewhere, and a package's prefix is its own.
std::optional<fs::path> installed_share(const fs::path& executable) {
  std::vector<fs::path> candidates{executable.parent_path().parent_path() / "share" / "deepl"};
  if (const fs::path configured = DEEPL_INSTALL_DATADIR; !configured.empty()) candidates.push_back(configured);
  const char* dirs = std::getenv("XDG_DATA_DIRS");
  std::string list = dirs != nullptr && *dirs != '\0' ? dirs : "/usr/local/share:/usr/share";
  for (size_t start = 0; start <= list.size();) {
    const size_t colon = std::min(list.find(':', start), list.size());
    if (colon > start) candidates.push_back(fs::path(list.substr(start, colon - start)) / "deepl");
    start = colon + 1;
  }
  for (const auto& candidate : candidates) {
    if (is_folder(candidate / "experiments")) return candidate;
  }
  return std::nullopt;
}

// The installed experiments, then the clone's, where present.
std::vector<fs::path> shipped_folders(const Locations& where, const std::string& subfolder) {
  std::vector<fs::path> folders;
  for (const auto& base : {where.installed, where.clone}) {
    if (!base) continue;
    const fs::path folder = subfolder.empty() ? *base / "experiments" : *base / "experiments" / subfolder;
    if (is_folder(folder)) folders.push_back(folder);
  }
  return folders;
}

std::vector<std::string> experiment_names(const std::vector<fs::path>& folders) {
  std::set<std::string> names;
  for (const auto& folder : folders) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (entry.path().extension() == ".json") names.insert(entry.path().stem().string());
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace

fs::path current_executable() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe;
}

bool is_clone(const fs::path& dir) { return is_folder(dir / "experiments") && is_file(dir / "data" / "SHA256SUMS"); }

Locations locations() {
  Locations where;
  std::error_code ec;
  where.current = fs::current_path(ec);
  const fs::path exe = current_executable();
  const auto built_in = exe.empty() ? std::nullopt : enclosing_clone(exe.parent_path());
  // A binary of a clone's build tree uses that clone's files, not another installation's.
  if (!exe.empty() && !built_in) where.installed = installed_share(exe);
  where.clone = enclosing_clone(where.current);
  if (!where.clone) where.clone = built_in;
  where.data_env = environment_path("DEEPL_DATA");
  where.xdg_data_home = environment_path("XDG_DATA_HOME");
  where.home = environment_path("HOME");
  return where;
}

std::vector<fs::path> experiment_folders(const Locations& where, const std::string& subfolder) {
  std::vector<fs::path> folders = shipped_folders(where, subfolder);
  if (is_folder(where.current)) folders.insert(folders.begin(), where.current);
  return folders;
}

fs::path shipped_experiments_folder(const Locations& where, const std::string& subfolder) {
  const auto folders = shipped_folders(where, subfolder);
  if (!folders.empty()) return folders.front();
  throw_usage("cannot find the shipped experiments: neither an installed share/deepl/experiments nor a deepl clone "
              "(run from the clone, or install deepl)");
}

fs::path find_experiment(const std::string& name_or_path, const Locations& where, const std::string& subfolder) {
  if (is_file(name_or_path)) return name_or_path;
  const fs::path given(name_or_path);
  const bool bare_name = !name_or_path.empty() && given.filename() == given;
  if (bare_name) {
    const std::string file = given.extension() == ".json" ? name_or_path : name_or_path + ".json";
    for (const auto& folder : experiment_folders(where, subfolder)) {
      if (is_file(folder / file)) return folder / file;
    }
  }
  const auto known = experiment_names(shipped_folders(where, subfolder));
  throw_usage(fmt::format("--config {}: {} (shipped experiments: {})", name_or_path,
                          bare_name ? "no such file or shipped experiment" : "no such file",
                          known.empty() ? "none found" : fmt::format("{}", fmt::join(known, ", "))));
}

fs::path data_folder(const std::string& configured, const Locations& where) {
  if (!configured.empty()) return configured;
  if (where.data_env) return *where.data_env;
  if (where.clone) return *where.clone / "data";
  if (where.xdg_data_home) return *where.xdg_data_home / "deepl";
  if (where.home) return *where.home / ".local" / "share" / "deepl";
  throw_usage("no data folder: set DEEPL_DATA (or data.root), or HOME for the default ~/.local/share/deepl");
}

fs::path data_fetcher(const Locations& where) {
  if (where.installed && is_file(*where.installed / "fetch")) return *where.installed / "fetch";
  if (where.clone && is_file(*where.clone / "data" / "fetch")) return *where.clone / "data" / "fetch";
  throw_usage("cannot find the data fetcher: neither an installed share/deepl/fetch nor a clone's data/fetch");
}

}  // namespace deepl
