#include "deepl/run/data_views.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/paths.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"
#include "deepl/report/plot.h"

namespace deepl::run {

namespace {
data::Split parse_split(const std::string& split) {
  if (split == "train") return data::Split::kTrain;
  if (split == "test") return data::Split::kTest;
  throw_usage("--split: expected train or test, got \"" + split + "\"");
}

// Runs `argv` with DEEPL_DATA=data_dir added to this process's environment; returns its exit status.
int run_with_data_dir(const std::vector<std::string>& argv, const std::filesystem::path& data_dir) {
  std::vector<std::string> env_strings{"DEEPL_DATA=" + data_dir.string()};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("DEEPL_DATA=", 0) != 0) env_strings.emplace_back(*e);
  }
  std::vector<char*> args, env;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  env.push_back(nullptr);
  pid_t pid = 0;
  if (const int err = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), env.data()); err != 0) {
    throw_failure(fmt::format("cannot run {}: {}", argv[0], std::strerror(err)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

report::GridImage grid_image(const data::Dataset& dataset, int64_t index, std::string caption, bool highlight) {
  const torch::Tensor img = dataset.images[index].reshape({-1, dataset.images.size(-1)}).contiguous();
  report::GridImage g;
  g.height = img.size(0);
  g.width = img.size(1);
  g.pixels.assign(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + img.numel());
  g.caption = std::move(caption);
  g.highlight = highlight;
  return g;
}

void write_data_grid(const std::string& dataset, const std::string& split, int count, uint64_t seed,
                     const std::filesystem::path& out, const std::string& root) {
  if (count < 1 || count > 1024) throw_usage("--n: expected 1..1024 images");
  const data::Dataset d = data::load_dataset(dataset, parse_split(split), data::resolve_data_root(root));
  const torch::Tensor pick = data::seeded_permutation(d.size(), seed).narrow(0, 0, std::min<int64_t>(count, d.size()));
  std::vector<report::GridImage> images;
  for (int64_t i = 0; i < pick.numel(); ++i) {
    const int64_t index = pick[i].item<int64_t>();
    images.push_back(grid_image(d, index, d.class_names.at(d.labels[index].item<int64_t>())));
  }
  report::write_image_grid_png(out, images, fmt::format("{} {}: {} random examples (seed {})", dataset, split, images.size(), seed));
}

std::string data_stats(const std::string& dataset, const std::string& root) {
  std::string out;
  for (const auto split : {data::Split::kTrain, data::Split::kTest}) {
    const data::Dataset d = data::load_dataset(dataset, split, data::resolve_data_root(root));
    const data::Normalization n = data::compute_normalization(d);
    const torch::Tensor counts = torch::bincount(d.labels, {}, d.num_classes());
    out += fmt::format("{} {}: {} images of {} (uint8), pixel mean {:.4f} std {:.4f} (in [0,1] units)\n", dataset,
                       split == data::Split::kTrain ? "train" : "test", d.size(), fmt::join(d.image_shape(), "x"),
                       n.mean.at(0), n.std.at(0));
    for (int64_t c = 0; c < d.num_classes(); ++c) {
      const int64_t k = counts[c].item<int64_t>();
      out += fmt::format("  {:>2} {:<12} {:>6} ({:.1f}%)\n", c, d.class_names.at(c), k,
                         100.0 * static_cast<double>(k) / static_cast<double>(d.size()));
    }
  }
  return out;
}

std::filesystem::path fetch_data(const std::vector<std::string>& datasets, const std::string& root) {
  for (const auto& name : datasets) data::dataset_info(name);  // unknown names: one usage error
  const Locations where = locations();
  const std::filesystem::path dir = data_folder(root, where);
  ensure_directory(dir);
  std::vector<std::string> argv{"bash", data_fetcher(where).string()};
  argv.insert(argv.end(), datasets.begin(), datasets.end());
  if (const int status = run_with_data_dir(argv, dir); status != 0) {
    throw_data(fmt::format("{}: fetching failed (the fetcher exited with {}; see its message above)", dir.string(), status));
  }
  return dir;
}

}  // namespace deepl::run
