#include "deepl/models/resnet.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/core/error.h"

namespace deepl::models {

using schema::Field;
using schema::FieldType;
using schema::make_field;
using nlohmann::json;

namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  torch::nn::Conv2d c(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
  // torchvision's resnet.py initialisation.
  torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  return c;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(const BasicBlockOptions& o) : options(o) {
  conv1 = register_module("conv1", conv(o.in_channels(), o.out_channels(), 3, o.stride()));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(o.preact() ? o.in_channels() : o.out_channels()));
  conv2 = register_module("conv2", conv(o.out_channels(), o.out_channels(), 3, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(o.out_channels()));
  if (o.stride() != 1 || o.in_channels() != o.out_channels()) {
    torch::nn::Sequential shortcut;
    shortcut->push_back(conv(o.in_channels(), o.out_channels(), 1, o.stride()));
    if (!o.preact()) shortcut->push_back(torch::nn::BatchNorm2d(o.out_channels()));
    downsample = register_module("downsample", shortcut);
  }
  if (o.zero_init_residual()) {
    torch::NoGradGuard no_grad;
    (o.preact() ? conv2->weight : bn2->weight).zero_();
  }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  if (options.preact()) {
    const torch::Tensor a = torch::relu(bn1(x));
    const torch::Tensor shortcut = downsample ? downsample->forward(a) : x;
    return conv2(torch::relu(bn2(conv1(a)))) + shortcut;
  }
  const torch::Tensor shortcut = downsample ? downsample->forward(x) : x;
  return torch::relu(bn2(conv2(torch::relu(bn1(conv1(x))))) + shortcut);
}

ResNetImpl::ResNetImpl(const ResNetOptions& o) : options(o) {
  const auto& blocks = o.blocks();
  if (blocks.empty() || o.widths().size() != blocks.size() || o.strides().size() != blocks.size()) {
    throw_usage(fmt::format("/model: resnet needs one width and one stride per stage: {} blocks, {} widths, {} strides",
                            blocks.size(), o.widths().size(), o.strides().size()));
  }
  torch::nn::Sequential stem;
  stem->push_back("conv1", conv(o.in_channels(), o.stem_channels(), o.stem_kernel_size(), o.stem_stride()));
  if (!o.preact()) {
    stem->push_back("bn1", torch::nn::BatchNorm2d(o.stem_channels()));
    stem->push_back("relu", torch::nn::ReLU());
  }
  if (o.stem_pool()) {
    stem->push_back("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }
  add_stage("", stem);
  int64_t channels = o.stem_channels();
  for (size_t s = 0; s < blocks.size(); ++s) {
    torch::nn::Sequential layer;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = b == 0 ? o.strides()[s] : 1;
      layer->push_back(BasicBlock(BasicBlockOptions(channels, o.widths()[s])
                                      .stride(stride)
                                      .preact(o.preact())
                                      .zero_init_residual(o.zero_init_residual())));
      channels = o.widths()[s];
    }
    add_stage(fmt::format("layer{}", s + 1), layer);
  }
  torch::nn::Sequential head;
  if (o.preact()) {
    head->push_back("norm", torch::nn::BatchNorm2d(channels));
    head->push_back("norm_relu", torch::nn::ReLU());
  }
  head->push_back("avgpool", torch::nn::AdaptiveAvgPool2d(1));
  head->push_back("flatten", torch::nn::Flatten());
  if (o.dropout() > 0) head->push_back("dropout", torch::nn::Dropout(o.dropout()));
  head->push_back("fc", torch::nn::Linear(channels, o.num_classes()));
  add_stage("", head);
}

ModelEntry resnet_model_entry() {
  ModelEntry e;
  e.type = "resnet";
  e.doc = "residual network of basic blocks (torchvision's names: conv1, bn1, layer1.0.conv1, ..., fc)";
  Field stem_channels = make_field("stem_channels", FieldType::kInt, 32, "output channels of the stem convolution");
  stem_channels.range(1, 65536);
  Field stem_kernel = make_field("stem_kernel_size", FieldType::kInt, 3, "stem kernel size (torchvision: 7)");
  stem_kernel.range(1, 15);
  Field stem_stride = make_field("stem_stride", FieldType::kInt, 1, "stem stride (torchvision: 2)");
  stem_stride.range(1, 8);
  Field blocks = make_field("blocks", FieldType::kIntList, json::array({2, 2, 2}), "basic blocks per stage");
  blocks.range(1, 64);
  Field widths = make_field("widths", FieldType::kIntList, json::array({32, 64, 128}), "output channels per stage");
  widths.range(1, 65536);
  Field strides =
      make_field("strides", FieldType::kIntList, json::array({1, 2, 2}), "stride of each stage's first block");
  strides.range(1, 8);
  Field dropout = make_field("dropout", FieldType::kNumber, 0.0, "dropout before fc");
  dropout.range(0.0, 0.99);
  Field stem_pool =
      make_field("stem_pool", FieldType::kBool, false, "3x3 stride-2 max-pool after the stem (torchvision: true)");
  e.fields = {stem_channels, stem_kernel, stem_stride, stem_pool, blocks, widths, strides,
              make_field("preact", FieldType::kBool, false, "pre-activation blocks (BN-ReLU-conv) and a final norm"),
              make_field("zero_init_residual", FieldType::kBool, false,
                         "start each block as its shortcut: zero its last batch norm's weight (torchvision's option; "
                         "pre-activation: its last convolution's)"),
              dropout};
  e.build = [](const json& o, const InputSpec& in) -> std::shared_ptr<NetworkImpl> {
    return std::make_shared<ResNetImpl>(ResNetOptions(in.channels, in.num_classes)
                                      .stem_channels(o.at("stem_channels").get<int64_t>())
                                      .stem_kernel_size(o.at("stem_kernel_size").get<int64_t>())
                                      .stem_stride(o.at("stem_stride").get<int64_t>())
                                      .stem_pool(o.at("stem_pool").get<bool>())
                                      .blocks(o.at("blocks").get<std::vector<int64_t>>())
                                      .widths(o.at("widths").get<std::vector<int64_t>>())
                                      .strides(o.at("strides").get<std::vector<int64_t>>())
                                      .preact(o.at("preact").get<bool>())
                                      .zero_init_residual(o.at("zero_init_residual").get<bool>())
                                      .dropout(o.at("dropout").get<double>()));
  };
  return e;
}

}  // namespace deepl::models
