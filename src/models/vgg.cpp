#include "deepl/models/vgg.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

#include "deepl/core/error.h"

namespace deepl::models {

using nlohmann::json;

namespace {

// torchvision's cfgs: channels per conv, 0 = max-pool.
std::vector<int64_t> layout(int depth) {
  switch (depth) {
    case 11: return {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
    case 13: return {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
    case 16: return {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    case 19: return {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};
    default: throw_usage(fmt::format("/model/depth: VGG depth must be 11, 13, 16 or 19, got {}", depth));
  }
}

// A network assembled from stages that belong to another network.
class BorrowedStagesImpl : public NetworkImpl {
 public:
  void borrow(const Stage& stage) { add_stage(stage.name, stage.layers); }
};

}  // namespace

InputAdapterImpl::InputAdapterImpl(int64_t size)
    : size_(size),
      mean_(torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1})),
      std_(torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1})) {}

torch::Tensor InputAdapterImpl::forward(torch::Tensor x) {
  if (x.size(1) == 1) x = x.expand({-1, 3, -1, -1});
  if (x.size(2) != size_ || x.size(3) != size_) {
    x = torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{size_, size_}).mode(torch::kBilinear).align_corners(false));
  }
  return (x - mean_.to(x.dtype())) / std_.to(x.dtype());
}

std::shared_ptr<NetworkImpl> VggImpl::backbone() { return borrow_stages({"adapter", "features"}); }

std::shared_ptr<NetworkImpl> VggImpl::head() { return borrow_stages({"avgpool", "classifier"}); }

std::shared_ptr<NetworkImpl> VggImpl::borrow_stages(const std::vector<std::string>& names) const {
  auto net = std::make_shared<BorrowedStagesImpl>();
  for (const auto& stage : stages()) {
    if (std::find(names.begin(), names.end(), stage.name) != names.end()) net->borrow(stage);
  }
  return net;
}

VggImpl::VggImpl(const VggOptions& o) : options(o) {
  if (o.adapt_input_size() > 0) {
    torch::nn::Sequential adapter;
    adapter->push_back(InputAdapter(o.adapt_input_size()));
    add_stage("adapter", adapter);
  }
  torch::nn::Sequential features;
  int64_t channels = 3;
  for (int64_t v : layout(o.depth())) {
    if (v == 0) {
      features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, v, 3).padding(1));
    torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    torch::nn::init::zeros_(conv->bias);
    features->push_back(conv);
    if (o.batch_norm()) features->push_back(torch::nn::BatchNorm2d(v));
    features->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
    channels = v;
  }
  torch::nn::Sequential avgpool;
  avgpool->push_back(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({7, 7})));
  avgpool->push_back(torch::nn::Flatten());
  torch::nn::Sequential classifier;
  int64_t width = 512 * 7 * 7;
  for (int64_t h : o.hidden()) {
    auto linear = torch::nn::Linear(width, h);
    torch::nn::init::normal_(linear->weight, 0.0, 0.01);
    torch::nn::init::zeros_(linear->bias);
    classifier->push_back(linear);
    classifier->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
    classifier->push_back(torch::nn::Dropout(o.dropout()));
    width = h;
  }
  auto last = torch::nn::Linear(width, o.num_classes());
  torch::nn::init::normal_(last->weight, 0.0, 0.01);
  torch::nn::init::zeros_(last->bias);
  classifier->push_back(last);
  add_stage("features", features);
  // avgpool holds no parameters; registered as a stage it leaves the state dict untouched.
  add_stage("avgpool", avgpool);
  add_stage("classifier", classifier);
}

void VggImpl::freeze_features(int blocks) {
  int block = 0;
  for (const auto& stage : stages()) {
    if (stage.name != "features") continue;
    for (const auto& layer : stage.layers->children()) {
      if (blocks >= 0 && block >= blocks) return;
      for (auto& p : layer->parameters()) p.set_requires_grad(false);
      if (layer->as<torch::nn::MaxPool2d>()) ++block;
    }
  }
}

ModelEntry vgg_model_entry() {
  using schema::Field;
  using schema::FieldType;
  using schema::make_field;
  ModelEntry e;
  e.type = "vgg";
  e.doc = "VGG 11/13/16/19 with torchvision's names; optional pretrained weights, frozen blocks, new head";
  Field depth = make_field("depth", FieldType::kInt, 16, "11, 13, 16 or 19");
  depth.range(11, 19);
  Field hidden = make_field("hidden", FieldType::kIntList, json::array({4096, 4096}), "classifier hidden sizes");
  hidden.range(1, 1 << 20);
  Field dropout = make_field("dropout", FieldType::kNumber, 0.5, "classifier dropout");
  dropout.range(0.0, 0.99);
  Field size = make_field("input_size", FieldType::kInt, 0, "resize inputs to this size with the 1->3 channel, ImageNet-normalising adapter (0: no adapter)");
  size.range(0, 1024);
  Field pretrained = make_field("pretrained", FieldType::kString, "", "torchvision .pth file for the backbone (\"\": random init)");
  Field freeze = make_field("freeze", FieldType::kInt, 0, "freeze the first N conv blocks (-1: all 5)");
  freeze.range(-1, 5);
  e.fields = {depth, make_field("batch_norm", FieldType::kBool, false, "vgg*_bn"), hidden, dropout, size, pretrained, freeze,
              make_field("cache_features", FieldType::kBool, true,
                         "with freeze -1 and no augmentation: compute the backbone's features once, cache them, train the head on them")};
  e.build = [](const json& o, const InputSpec& in) -> std::shared_ptr<NetworkImpl> {
    auto net = std::make_shared<VggImpl>(VggOptions(o.at("depth").get<int>())
                                             .batch_norm(o.at("batch_norm"))
                                             .num_classes(in.num_classes)
                                             .hidden(o.at("hidden").get<std::vector<int64_t>>())
                                             .dropout(o.at("dropout"))
                                             .adapt_input_size(o.at("input_size")));
    const int freeze = o.at("freeze");
    if (freeze != 0) net->freeze_features(freeze);
    return net;
  };
  return e;
}

}  // namespace deepl::models
