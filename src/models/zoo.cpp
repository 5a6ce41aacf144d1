#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/models/registry.h"
#include "deepl/models/resnet.h"
#include "deepl/models/torchscript.h"
#include "deepl/models/vgg.h"
#include "deepl/models/zoo.h"

namespace deepl::models {

using schema::Field;
using schema::FieldType;
using schema::make_field;
using nlohmann::json;

namespace {

std::vector<std::string> activation_names() { return {"relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu"}; }

Field activation_field(const std::string& doc) {
  Field f = make_field("activation", FieldType::kString, "relu", doc);
  f.choices = activation_names();
  return f;
}

int64_t conv_output(int64_t size, int64_t kernel, int64_t stride, int64_t padding) {
  return (size + 2 * padding - kernel) / stride + 1;
}

}  // namespace

LinearModelImpl::LinearModelImpl(const LinearModelOptions& o) : options(o) {
  torch::nn::Sequential seq;
  seq->push_back(torch::nn::Flatten());
  seq->push_back(torch::nn::Linear(torch::nn::LinearOptions(o.in_features(), o.out_features()).bias(o.bias())));
  add_stage("", seq);
}

MlpImpl::MlpImpl(const MlpOptions& o) : options(o) {
  const auto& hidden = o.hidden();
  const auto& dropout = o.dropout();
  if (dropout.size() != 1 && dropout.size() != hidden.size()) {
    throw_usage(fmt::format("mlp: {} dropout values for {} hidden layers", dropout.size(), hidden.size()));
  }
  torch::nn::Sequential seq;
  seq->push_back(torch::nn::Flatten());
  int64_t width = o.in_features();
  for (size_t i = 0; i < hidden.size(); ++i) {
    seq->push_back(torch::nn::Linear(width, hidden[i]));
    push_activation(seq, o.activation());
    const double p = dropout.size() == 1 ? dropout[0] : dropout[i];
    if (p > 0) seq->push_back(torch::nn::Dropout(p));
    width = hidden[i];
  }
  seq->push_back(torch::nn::Linear(width, o.out_features()));
  add_stage("", seq);
}

CnnImpl::CnnImpl(const CnnOptions& o) : options(o) {
  torch::nn::Sequential features;
  int64_t channels = o.in_channels(), h = o.height(), w = o.width();
  for (size_t b = 0; b < o.blocks().size(); ++b) {
    const CnnBlock& block = o.blocks()[b];
    for (const ConvSpec& c : block.convs) {
      features->push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(channels, c.out_channels, c.kernel_size).stride(c.stride).padding(c.padding)));
      if (block.batch_norm) features->push_back(torch::nn::BatchNorm2d(c.out_channels));
      push_activation(features, block.activation);
      channels = c.out_channels;
      h = conv_output(h, c.kernel_size, c.stride, c.padding);
      w = conv_output(w, c.kernel_size, c.stride, c.padding);
    }
    if (block.pool > 0) {
      if (block.pool_type == "avg") {
        features->push_back(torch::nn::AvgPool2d(block.pool));
      } else {
        features->push_back(torch::nn::MaxPool2d(block.pool));
      }
      h /= block.pool;
      w /= block.pool;
    }
    if (block.dropout > 0) features->push_back(torch::nn::Dropout(block.dropout));
    if (h <= 0 || w <= 0) {
      throw_usage(fmt::format("/model/blocks/{}: the feature map shrinks to {}x{}; use padding or fewer layers", b, h, w));
    }
  }
  torch::nn::Sequential classifier;
  classifier->push_back(torch::nn::Flatten());
  int64_t width = channels * h * w;
  if (o.dropout() > 0) classifier->push_back(torch::nn::Dropout(o.dropout()));
  for (int64_t units : o.hidden()) {
    classifier->push_back(torch::nn::Linear(width, units));
    push_activation(classifier, o.activation());
    if (o.dropout() > 0) classifier->push_back(torch::nn::Dropout(o.dropout()));
    width = units;
  }
  classifier->push_back(torch::nn::Linear(width, o.out_features()));
  add_stage("features", features);
  add_stage("classifier", classifier);
}

namespace {

std::vector<double> number_or_list(const json& v) {
  if (v.is_array()) return v.get<std::vector<double>>();
  return {v.get<double>()};
}

ModelEntry linear_entry(const std::string& type, Task task) {
  ModelEntry e;
  e.type = type;
  e.task = task;
  e.doc = task == Task::kBinary ? "logistic regression: one linear layer, sigmoid output via BCE-with-logits"
                                : "linear regression / linear classifier: one linear layer";
  e.fields = {make_field("bias", FieldType::kBool, true, "learn an intercept")};
  e.build = [task](const json& o, const InputSpec& in) -> std::shared_ptr<NetworkImpl> {
    return std::make_shared<LinearModelImpl>(
        LinearModelOptions(in.features(), output_units(task, in)).bias(o.at("bias").get<bool>()));
  };
  return e;
}

ModelEntry mlp_entry() {
  ModelEntry e;
  e.type = "mlp";
  e.doc = "multi-layer perceptron on flattened images";
  Field dropout = make_field("dropout", FieldType::kNumber, 0.0, "dropout after each hidden layer (one value or one per layer)");
  dropout.number_or_list = true;
  dropout.range(0.0, 0.99);
  Field hidden = make_field("hidden", FieldType::kIntList, json::array({128}), "hidden layer sizes");
  hidden.range(1, 1 << 20);
  e.fields = {hidden, activation_field("activation of the hidden layers"), dropout};
  e.build = [](const json& o, const InputSpec& in) -> std::shared_ptr<NetworkImpl> {
    return std::make_shared<MlpImpl>(MlpOptions(in.features(), in.num_classes)
                                         .hidden(o.at("hidden").get<std::vector<int64_t>>())
                                         .activation(o.at("activation").get<std::string>())
                                         .dropout(number_or_list(o.at("dropout"))));
  };
  return e;
}

ModelEntry cnn_entry() {
  ModelEntry e;
  e.type = "cnn";
  e.doc = "convolutional network: blocks of conv layers + pooling, then a fully-connected head";
  Field out_channels = make_field("out_channels", FieldType::kInt, nullptr, "output channels");
  out_channels.range(1, 65536);
  Field kernel = make_field("kernel_size", FieldType::kInt, 3, "square kernel size");
  kernel.range(1, 64);
  Field stride = make_field("stride", FieldType::kInt, 1, "stride");
  stride.range(1, 64);
  Field padding = make_field("padding", FieldType::kInt, 0, "zero padding on each side");
  padding.range(0, 64);
  Field convs = make_field("convs", FieldType::kObjectList, nullptr, "the block's conv layers, in order");
  convs.children = {out_channels, kernel, stride, padding};
  Field pool = make_field("pool", FieldType::kInt, 2, "pooling window and stride after the convs (0: none)");
  pool.range(0, 64);
  Field pool_type = make_field("pool_type", FieldType::kString, "max", "pooling kind");
  pool_type.choices = {"max", "avg"};
  Field block_dropout = make_field("dropout", FieldType::kNumber, 0.0, "dropout after the pooling");
  block_dropout.range(0.0, 0.99);
  Field blocks = make_field("blocks", FieldType::kObjectList, nullptr, "conv blocks, in order");
  blocks.children = {convs, activation_field("activation after each conv"),
                     make_field("batch_norm", FieldType::kBool, false, "BatchNorm2d after each conv"), pool, pool_type,
                     block_dropout};
  Field hidden = make_field("hidden", FieldType::kIntList, json::array(), "hidden sizes of the fully-connected head");
  hidden.range(1, 1 << 20);
  Field dropout = make_field("dropout", FieldType::kNumber, 0.0, "dropout after flattening and after each hidden layer");
  dropout.range(0.0, 0.99);
  e.fields = {blocks, hidden, activation_field("activation of the head's hidden layers"), dropout};
  e.build = [](const json& o, const InputSpec& in) -> std::shared_ptr<NetworkImpl> {
    std::vector<CnnBlock> blocks;
    for (const auto& b : o.at("blocks")) {
      CnnBlock block;
      for (const auto& c : b.at("convs")) {
        block.convs.push_back({c.at("out_channels").get<int64_t>(), c.at("kernel_size").get<int64_t>(),
                               c.at("stride").get<int64_t>(), c.at("padding").get<int64_t>()});
      }
      block.activation = b.at("activation").get<std::string>();
      block.batch_norm = b.at("batch_norm").get<bool>();
      block.pool = b.at("pool").get<int64_t>();
      block.pool_type = b.at("pool_type").get<std::string>();
      block.dropout = b.at("dropout").get<double>();
      blocks.push_back(block);
    }
    return std::make_shared<CnnImpl>(CnnOptions(in.channels, in.height, in.width, in.num_classes)
                                         .blocks(blocks)
                                         .hidden(o.at("hidden").get<std::vector<int64_t>>())
                                         .activation(o.at("activation").get<std::string>())
                                         .dropout(o.at("dropout").get<double>()));
  };
  return e;
}

// Logits [N, classes] for the data's pictures, or a usage error saying what the module gave.
void check_torchscript_outputs(TorchScriptNetworkImpl& net, const std::string& path, const InputSpec& in) {
  const std::vector<int64_t> probe = {2, in.channels, in.height, in.width};
  torch::Tensor out;
  {
    torch::NoGradGuard no_grad;
    net.eval();
    try {
      out = net.forward(torch::zeros(probe));
    } catch (const c10::Error& e) {
      const std::string why = e.what_without_backtrace();
      throw_usage(fmt::format("/model/path: {} cannot take inputs [{}] ({})", path, fmt::join(probe, ", "),
                              why.substr(0, why.find('\n'))));
    }
    net.train();
  }
  if (out.dim() != 2 || out.size(0) != 2 || out.size(1) != in.num_classes) {
    throw_usage(fmt::format("/model/path: {} gives [{}] for inputs [{}]; deepl needs logits [N, {}] for the data's {} "
                            "class(es)",
                            path, fmt::join(out.sizes(), ", "), fmt::join(probe, ", "), in.num_classes, in.num_classes));
  }
}

ModelEntry torchscript_entry() {
  ModelEntry e;
  e.type = "torchscript";
  e.doc = "a network designed in Python, saved with torch.jit.script(model).save(path): deepl trains its parameters";
  e.fields = {make_field("path", FieldType::kString, nullptr, "the TorchScript file"),
              make_field("sha256", FieldType::kString, "",
                         "the file's SHA-256: recorded when a run starts; a file that changed since is refused")};
  e.build = [](const json& o, const InputSpec& in) -> std::shared_ptr<NetworkImpl> {
    const std::string path = o.at("path");
    const std::string recorded = o.at("sha256");
    if (!recorded.empty()) {
      if (const std::string now = sha256_of_file(path); now != recorded) {
        throw_usage(fmt::format("/model/sha256: {} has changed since this run began (sha256 {}, recorded {}); train "
                                "a new run for the new module",
                                path, now, recorded));
      }
    }
    auto net = load_torchscript(path);
    check_torchscript_outputs(*net, path, in);
    return net;
  };
  return e;
}

std::vector<ModelEntry>& entries() {
  static std::vector<ModelEntry> all = {linear_entry("linear", Task::kClassification),
                                        linear_entry("logistic", Task::kBinary), mlp_entry(), cnn_entry(),
                                        vgg_model_entry(), resnet_model_entry(), torchscript_entry()};
  return all;
}

}  // namespace

void register_model(ModelEntry entry) {
  auto& all = entries();
  for (auto& e : all) {
    if (e.type == entry.type) {
      e = std::move(entry);
      return;
    }
  }
  all.push_back(std::move(entry));
}

std::vector<std::string> model_types() {
  std::vector<std::string> types;
  for (const auto& e : entries()) types.push_back(e.type);
  return types;
}

const ModelEntry& find_model(const std::string& type) {
  for (const auto& e : entries())
    if (e.type == type) return e;
  std::string msg = fmt::format("/model/type: unknown model type \"{}\" (known: {})", type, fmt::join(model_types(), ", "));
  const auto hint = closest_match(type, model_types());
  if (!hint.empty()) msg += fmt::format("; did you mean \"{}\"?", hint);
  throw_usage(msg);
}

int64_t output_units(Task task, const InputSpec& input) {
  return task == Task::kBinary ? 1 : input.num_classes;
}

std::shared_ptr<NetworkImpl> build_model(const json& model_section, const InputSpec& input) {
  const std::string type = model_section.at("type");
  const ModelEntry& entry = find_model(type);
  json options = model_section;
  options.erase("type");
  return entry.build(options, input);
}

}  // namespace deepl::models
