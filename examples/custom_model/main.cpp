// A new model for deepl: "tiny_cnn", a LeNet-sized network (conv 5x5, ReLU, 2x2 max-pool, linear),
// registered with deepl's model registry so configs can say "model": {"type": "tiny_cnn"}, then
// trained on MNIST with deepl's trainer: checkpoints, metrics, confusion matrix and run folder
// exactly as `deepl train` writes them.
//   custom_model [--epochs N] [--channels C] [--out DIR]
#include <deepl/config/config.h>
#include <deepl/models/network.h>
#include <deepl/models/registry.h>
#include <deepl/run/experiment.h>
#include <deepl/version.h>

#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

struct TinyCnnOptions {
  TinyCnnOptions(int64_t in_channels, int64_t size, int64_t classes)
      : in_channels_(in_channels), size_(size), classes_(classes) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, size);  // height = width of the input images
  TORCH_ARG(int64_t, classes);
  TORCH_ARG(int64_t, channels) = 8;
};

// The same layer names as nn.Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear): "0.weight", "4.weight".
class TinyCnnImpl : public deepl::models::NetworkImpl {
 public:
  explicit TinyCnnImpl(const TinyCnnOptions& o) {
    const int64_t pooled = (o.size() - 4) / 2;
    torch::nn::Sequential layers(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels(), o.channels(), 5)), torch::nn::ReLU(),
        torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)), torch::nn::Flatten(),
        torch::nn::Linear(o.channels() * pooled * pooled, o.classes()));
    add_stage("", layers);
  }
};
TORCH_MODULE(TinyCnn);

void register_tiny_cnn() {
  using deepl::schema::FieldType;
  deepl::models::ModelEntry entry;
  entry.type = "tiny_cnn";
  entry.doc = "conv 5x5 + ReLU + 2x2 max-pool + linear (examples/custom_model)";
  entry.task = deepl::models::Task::kClassification;
  entry.fields = {deepl::schema::make_field("channels", FieldType::kInt, 8, "feature maps of the convolution").range(1, 256)};
  entry.build = [](const nlohmann::json& options, const deepl::models::InputSpec& input) {
    TinyCnnOptions o(input.channels, input.height, input.num_classes);
    o.channels(options.at("channels").get<int64_t>());
    return std::static_pointer_cast<deepl::models::NetworkImpl>(TinyCnn(o).ptr());
  };
  deepl::models::register_model(entry);
}

nlohmann::json experiment_json(int epochs, int channels) {
  return {{"name", "tiny_cnn_mnist"},
          {"description", "examples/custom_model: a model registered by a program outside deepl"},
          {"seed", 1},
          {"data", {{"dataset", "mnist"}, {"val_fraction", 0.1}, {"batch_size", 128}}},
          {"model", {{"type", "tiny_cnn"}, {"channels", channels}}},
          {"optimizer", {{"type", "adam"}, {"lr", 0.002}}},
          {"train", {{"epochs", epochs}}}};
}

int flag_value(int argc, char** argv, const std::string& flag, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return std::atoi(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  register_tiny_cnn();
  const auto experiment = deepl::config::resolve_experiment(
      experiment_json(flag_value(argc, argv, "--epochs", 2), flag_value(argc, argv, "--channels", 8)), {},
      "custom_model");
  deepl::run::TrainOptions options;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--out") options.run_dir = argv[i + 1];
  try {
    const auto result = deepl::run::train_experiment(experiment, options);
    std::cout << "deepl " << DEEPL_VERSION << ": tiny_cnn test accuracy " << result.test.accuracy << " after "
              << result.history.size() << " epochs; run folder " << result.run_dir.string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "custom_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
