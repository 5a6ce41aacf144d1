// Data-layer benchmark: load time of each real data set and batches/s of the loader alone.
//   build/bench/deepl_bench_data [data-root]
#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>

#include "deepl/core/runtime.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
long peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace deepl;
  const std::string root = argc > 1 ? argv[1] : data::resolve_data_root("").string();
  const int threads = configure_threads(0);
  fmt::print("| data set | format | load s | batch | batches/s | examples/s |\n|---|---|---|---|---|---|\n");
  for (const std::string name : {"mnist", "fashion-mnist"}) {
    const double t0 = now();
    const data::Dataset d = data::load_dataset(name, data::Split::kTrain, root);
    const double load = now() - t0;
    const std::string format = name == "mnist" ? "raw" : "gzip";
    for (int64_t batch : {64, 1000}) {
      data::LoaderOptions o;
      o.batch_size = batch;
      o.shuffle = true;
      o.normalization = data::compute_normalization(d);
      data::BatchLoader loader(d, torch::Tensor(), o);
      loader.set_epoch(1);
      const double t1 = now();
      double checksum = 0;
      for (int64_t i = 0; i < loader.num_batches(); ++i) checksum += loader.batch(i).inputs[0][0][0][0].item<float>();
      const double secs = now() - t1;
      fmt::print("| {} | {} | {:.3f} | {} | {:.0f} | {:.0f} |\n", name, format, load, batch,
                 static_cast<double>(loader.num_batches()) / secs, static_cast<double>(loader.num_examples()) / secs);
      (void)checksum;
    }
  }
  fmt::print("\nthreads {}, peak RSS {} MB\n", threads, peak_rss_mb());
}
