#pragma once
// Helpers shared by the tests: temporary folders and small synthetic IDX data sets.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/data/idx.h"

namespace deepl::testing {

/// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "deepl-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Images whose class is visible: class c lights a 6x6 block at a class-specific place, plus noise.
inline std::pair<torch::Tensor, torch::Tensor> synthetic_digits(int64_t n, int64_t classes, uint64_t seed,
                                                                int64_t size = 28) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor labels = torch::randint(0, classes, {n}, gen, torch::kInt64);
  torch::Tensor images = torch::randint(0, 60, {n, size, size}, gen, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[i].item<int64_t>();
    const int64_t row = (c / 4) * 7 + 1, col = (c % 4) * 7 + 1;
    images[i].narrow(0, row % (size - 6), 6).narrow(1, col % (size - 6), 6).add_(180);
  }
  return {images.clamp(0, 255).to(torch::kUInt8), labels.to(torch::kUInt8)};
}

/// Writes a synthetic data set in the layout of the registered data set `name` under root.
inline void write_synthetic_dataset(const std::filesystem::path& root, const std::string& name, int64_t train_n,
                                    int64_t test_n, bool gzip = false) {
  const auto dir = root / name;
  const std::string ext = gzip ? ".gz" : "";
  auto [train_x, train_y] = synthetic_digits(train_n, 10, 1);
  auto [test_x, test_y] = synthetic_digits(test_n, 10, 2);
  data::write_idx(dir / ("train-images-idx3-ubyte" + ext), train_x, gzip);
  data::write_idx(dir / ("train-labels-idx1-ubyte" + ext), train_y, gzip);
  data::write_idx(dir / ("t10k-images-idx3-ubyte" + ext), test_x, gzip);
  data::write_idx(dir / ("t10k-labels-idx1-ubyte" + ext), test_y, gzip);
}

struct CommandResult {
  int code;            // exit status; -1 when killed by a signal
  std::string output;  // stdout and stderr
};

/// Runs a shell command line and collects its exit status and output.
inline CommandResult run_command(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// One entry of a tests/data/make_pictures.py spec: a picture at `path` whose bright block's place
/// and colour depend on `label`.
inline nlohmann::json picture(const std::string& path, int width, int height, const std::string& mode, int label,
                              int seed) {
  return {{"path", path}, {"size", {width, height}}, {"mode", mode}, {"label", label}, {"seed", seed}};
}

/// Writes the pictures of `spec` under root with Pillow (tests/data/make_pictures.py), so the decoders
/// read files deepl did not write; fails the test when that cannot run.
inline void make_pictures(const std::filesystem::path& root, const nlohmann::json& spec) {
  const std::filesystem::path spec_file = root.parent_path() / (root.filename().string() + "-spec.json");
  write_file_atomic(spec_file, spec.dump());
  const CommandResult r = run_command("/usr/bin/python3 " + std::string(DEEPL_SOURCE_DIR) +
                                      "/tests/data/make_pictures.py '" + root.string() + "' '" + spec_file.string() + "'");
  ASSERT_EQ(r.code, 0) << "Pillow (Debian's python3-pil) must be installed to make the test pictures:\n" << r.output;
}

/// root/CLASS/: per_class RGB pictures of width x height per class, alternately PNG and JPEG.
inline void write_picture_folder(const std::filesystem::path& root, const std::vector<std::string>& classes,
                                 int per_class, int width, int height) {
  nlohmann::json spec = nlohmann::json::array();
  for (size_t c = 0; c < classes.size(); ++c) {
    for (int i = 0; i < per_class; ++i) {
      const int label = static_cast<int>(c);
      spec.push_back(picture(classes[c] + "/" + std::to_string(i) + (i % 2 ? ".jpg" : ".png"), width, height, "RGB",
                             label, 1000 * label + i));
    }
  }
  make_pictures(root, spec);
}

/// The message of the deepl::Error `fn` throws (fails the test when it throws none).
template <typename Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const deepl::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a deepl::Error";
  return "";
}

/// The exit code of the deepl::Error `fn` throws (2 usage, 3 data), or 0 when it throws none.
template <typename Fn>
int error_exit_code(Fn&& fn) {
  try {
    fn();
  } catch (const deepl::Error& e) {
    return e.exit_code();
  }
  return 0;
}

/// The data folder of the real data sets, or "" when they are not fetched.
inline std::filesystem::path real_data_root(const std::string& name) {
  const char* env = std::getenv("DEEPL_DATA");
  const std::filesystem::path root = env && *env ? env : std::filesystem::path(DEEPL_SOURCE_DIR) / "data";
  const auto dir = root / name;
  if (std::filesystem::exists(dir / "train-images-idx3-ubyte") || std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) {
    return root;
  }
  return {};
}

}  // namespace deepl::testing
