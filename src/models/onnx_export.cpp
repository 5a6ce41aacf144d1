// Translates a network's layers into ONNX nodes. A probe tensor (batch 1) runs through the real
// layers alongside, so every translation knows its input's shape; weights become initializers
// named as in the state dict ("features.0.weight"), nodes and their outputs as the layer's path.
#include "deepl/models/onnx_export.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "deepl/core/error.h"
#include "deepl/core/torch_compat.h"
#include "deepl/models/resnet.h"
#include "deepl/models/vgg.h"

namespace deepl::models {

namespace {

namespace nn = torch::nn;
using io::onnx::Attribute;
using io::onnx::Dim;
using io::onnx::Node;

std::vector<float> float_values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::vector<int64_t> pair_of(const torch::ExpandingArray<2>& a) { return {(*a)[0], (*a)[1]}; }

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw_usage(fmt::format("onnx export: layer {}: {} has no ONNX translation yet", path.empty() ? "(input)" : path, what));
}

class GraphBuilder {
 public:
  GraphBuilder(io::onnx::Graph& graph, torch::Tensor probe) : graph_(graph), probe_(std::move(probe)) {}

  /// The graph input "input" and the normalisation nodes after it.
  void input(const OnnxInput& in) {
    std::vector<Dim> dims = {Dim::named("N")};
    for (const int64_t d : in.table ? std::vector<int64_t>{in.shape.back()} : in.shape) dims.push_back(Dim::sized(d));
    graph_.inputs.push_back({"input", io::onnx::DataType::kFloat, dims});
    current_ = "input";
    if (in.table) {
      standardise_features(in);
    } else {
      normalise_pixels(in);
    }
  }

  /// The layers of a stage; a stage named "" puts its layers at the top level ("0", "conv1").
  void stage(const std::string& name, nn::SequentialImpl& layers) { sequence(name, layers); }

  /// Names the last tensor (a regression's brought back to the target's units) and declares it the
  /// graph output.
  void output(const OnnxExportOptions& options) {
    const bool regression = options.task == Task::kRegression;
    if (regression) {
      const auto scalar = [](double v) { return torch::tensor({static_cast<float>(v)}); };
      current_ = node("Mul", "value_scaled", {current_, constant("target_std", scalar(options.target_std))});
      current_ = node("Add", "value_shifted", {current_, constant("target_mean", scalar(options.target_mean))});
    }
    const std::string name = regression ? "value" : "logits";
    if (graph_.nodes.empty() || graph_.nodes.back().outputs[0] != current_) {
      current_ = node("Identity", name, {current_});
    } else {
      graph_.nodes.back().outputs[0] = name;
    }
    graph_.outputs.push_back(
        {name, io::onnx::DataType::kFloat, {Dim::named("N"), Dim::sized(probe_.size(probe_.dim() - 1))}});
  }

 private:
  void layer(const std::string& path, const std::shared_ptr<nn::Module>& m) {
    if (auto* linear = m->as<nn::Linear>()) return gemm(path, *linear);
    if (auto* conv = m->as<nn::Conv2d>()) return convolution(path, *conv);
    if (auto* bn = m->as<nn::BatchNorm2d>()) return batch_norm(path, *bn);
    if (auto* pool = m->as<nn::MaxPool2d>()) return max_pool(path, *pool);
    if (auto* pool = m->as<nn::AvgPool2d>()) return average_pool(path, *pool);
    if (auto* pool = m->as<nn::AdaptiveAvgPool2d>()) return adaptive_average_pool(path, *pool);
    if (auto* flatten = m->as<nn::Flatten>()) return flatten_layer(path, *flatten);
    if (auto* block = m->as<BasicBlock>()) return basic_block(path, *block);
    if (auto* adapter = m->as<InputAdapter>()) return input_adapter(path, *adapter);
    if (auto* seq = m->as<nn::Sequential>()) return sequence(path, *seq);
    if (m->as<nn::Dropout>()) return;  // identity in eval mode
    if (m->as<nn::ReLU>()) return unary(path, "Relu");
    if (m->as<nn::Tanh>()) return unary(path, "Tanh");
    if (m->as<nn::Sigmoid>()) return unary(path, "Sigmoid");
    if (auto* leaky = m->as<nn::LeakyReLU>()) {
      return unary(path, "LeakyRelu", {Attribute::of_float("alpha", static_cast<float>(leaky->options.negative_slope()))});
    }
    if (auto* elu = m->as<nn::ELU>()) {
      return unary(path, "Elu", {Attribute::of_float("alpha", static_cast<float>(elu->options.alpha()))});
    }
    if (auto* gelu = m->as<nn::GELU>()) return exact_gelu(path, *gelu);
    refuse(path, m->name());
  }

  // ---------------------------------------------------------------- node helpers
  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   std::vector<Attribute> attributes = {}) {
    graph_.nodes.push_back({op, name, std::move(inputs), {name}, std::move(attributes)});
    return name;
  }

  std::string constant(const std::string& name, const torch::Tensor& value) {
    std::vector<int64_t> dims(value.sizes().begin(), value.sizes().end());
    graph_.initializers.push_back(io::onnx::Tensor::floats(name, dims, float_values(value)));
    return name;
  }

  // A 1-d int64 initializer: shapes, sizes and indices for Expand, Slice and Concat.
  std::string shape_constant(const std::string& name, const std::vector<int64_t>& values) {
    graph_.initializers.push_back(io::onnx::Tensor::int64s(name, {static_cast<int64_t>(values.size())}, values));
    return name;
  }

  void unary(const std::string& path, const std::string& op, std::vector<Attribute> attributes = {}) {
    current_ = node(op, path, {current_}, std::move(attributes));
  }

  // ---------------------------------------------------------------- input
  void normalise_pixels(const OnnxInput& in) {
    const int64_t channels = in.shape.at(0);
    std::vector<float> scale(static_cast<size_t>(channels)), shift(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      const double mean = in.mean.size() == 1 ? in.mean[0] : in.mean.at(static_cast<size_t>(c));
      const double sd = in.std.size() == 1 ? in.std[0] : in.std.at(static_cast<size_t>(c));
      scale[static_cast<size_t>(c)] = static_cast<float>(1.0 / (255.0 * sd));
      shift[static_cast<size_t>(c)] = static_cast<float>(-mean / sd);
    }
    const auto per_channel = [&](const std::vector<float>& v) { return torch::tensor(v).view({1, channels, 1, 1}); };
    current_ = node("Mul", "input_scaled", {current_, constant("input_scale", per_channel(scale))});
    current_ = node("Add", "input_normalised", {current_, constant("input_shift", per_channel(shift))});
  }

  // VGG's adapter: gray expanded to 3 channels, resized as interpolate(bilinear, align_corners
  // false) does (Resize to [N, 3, size, size], N taken from the input's shape), ImageNet-normalised.
  void input_adapter(const std::string& path, const InputAdapterImpl& adapter) {
    if (probe_.size(1) == 1) {
      current_ = node("Expand", path + ".rgb", {current_, shape_constant(path + ".rgb_shape", {1, 3, 1, 1})});
    }
    const int64_t size = adapter.size();
    if (probe_.size(2) != size || probe_.size(3) != size) {
      const std::string shape = node("Shape", path + ".input_shape", {current_});
      const std::string batch_and_channels =
          node("Slice", path + ".batch_and_channels", {shape, shape_constant(path + ".from", {0}), shape_constant(path + ".to", {2})});
      const std::string sizes = node("Concat", path + ".sizes", {batch_and_channels, shape_constant(path + ".size", {size, size})},
                                     {Attribute::of_int("axis", 0)});
      current_ = node("Resize", path + ".resized", {current_, "", "", sizes},
                      {Attribute::of_string("mode", "linear"),
                       Attribute::of_string("coordinate_transformation_mode", "pytorch_half_pixel")});
    }
    current_ = node("Sub", path + ".centred", {current_, constant(path + ".mean", adapter.mean())});
    current_ = node("Div", path, {current_, constant(path + ".std", adapter.std())});
  }

  void standardise_features(const OnnxInput& in) {
    const auto as_floats = [](const std::vector<double>& v) {
      return torch::tensor(v, torch::kFloat64).to(torch::kFloat32);
    };
    current_ = node("Sub", "input_centred", {current_, constant("input_mean", as_floats(in.mean))});
    current_ = node("Div", "input_standardised", {current_, constant("input_std", as_floats(in.std))});
  }

  // ---------------------------------------------------------------- layers
  void gemm(const std::string& path, const nn::LinearImpl& linear) {
    if (probe_.dim() != 2) refuse(path, fmt::format("a linear layer on a {}-d input", probe_.dim()));
    std::vector<std::string> inputs = {current_, constant(path + ".weight", linear.weight)};
    if (linear.bias.defined()) inputs.push_back(constant(path + ".bias", linear.bias));
    current_ = node("Gemm", path, inputs, {Attribute::of_int("transB", 1)});
  }

  void convolution(const std::string& path, const nn::Conv2dImpl& conv) {
    const auto& o = conv.options;
    const auto* padding = compat::variant_get_if<torch::ExpandingArray<2>>(o.padding());
    if (padding == nullptr) refuse(path, "a convolution with padding \"same\" or \"valid\"");
    if (!compat::variant_holds<torch::enumtype::kZeros>(o.padding_mode())) refuse(path, "a convolution not padded with zeros");
    const auto pad = pair_of(*padding);
    std::vector<std::string> inputs = {current_, constant(path + ".weight", conv.weight)};
    if (conv.bias.defined()) inputs.push_back(constant(path + ".bias", conv.bias));
    current_ = node("Conv", path, inputs,
                    {Attribute::of_ints("kernel_shape", pair_of(o.kernel_size())),
                     Attribute::of_ints("strides", pair_of(o.stride())),
                     Attribute::of_ints("pads", {pad[0], pad[1], pad[0], pad[1]}),
                     Attribute::of_ints("dilations", pair_of(o.dilation())), Attribute::of_int("group", o.groups())});
  }

  void batch_norm(const std::string& path, const nn::BatchNorm2dImpl& bn) {
    const auto& o = bn.options;
    if (!o.track_running_stats()) refuse(path, "a batch norm without running statistics");
    const int64_t c = o.num_features();
    const torch::Tensor weight = o.affine() ? bn.weight : torch::ones({c});
    const torch::Tensor bias = o.affine() ? bn.bias : torch::zeros({c});
    current_ = node("BatchNormalization", path,
                    {current_, constant(path + ".weight", weight), constant(path + ".bias", bias),
                     constant(path + ".running_mean", bn.running_mean), constant(path + ".running_var", bn.running_var)},
                    {Attribute::of_float("epsilon", static_cast<float>(o.eps()))});
  }

  void max_pool(const std::string& path, const nn::MaxPool2dImpl& pool) {
    const auto& o = pool.options;
    const auto pad = pair_of(o.padding());
    current_ = node("MaxPool", path, {current_},
                    {Attribute::of_ints("kernel_shape", pair_of(o.kernel_size())),
                     Attribute::of_ints("strides", pair_of(o.stride())),
                     Attribute::of_ints("pads", {pad[0], pad[1], pad[0], pad[1]}),
                     Attribute::of_ints("dilations", pair_of(o.dilation())),
                     Attribute::of_int("ceil_mode", o.ceil_mode() ? 1 : 0)});
  }

  void average_pool(const std::string& path, const nn::AvgPool2dImpl& pool) {
    const auto& o = pool.options;
    if (o.divisor_override()) refuse(path, "an average pool with a divisor override");
    const auto pad = pair_of(o.padding());
    current_ = node("AveragePool", path, {current_},
                    {Attribute::of_ints("kernel_shape", pair_of(o.kernel_size())),
                     Attribute::of_ints("strides", pair_of(o.stride())),
                     Attribute::of_ints("pads", {pad[0], pad[1], pad[0], pad[1]}),
                     Attribute::of_int("ceil_mode", o.ceil_mode() ? 1 : 0),
                     Attribute::of_int("count_include_pad", o.count_include_pad() ? 1 : 0)});
  }

  // Global pooling when the output is 1x1; a broadcast when the input is 1x1 (VGG's 7x7 pool after
  // five halvings of a 32x32 picture); an even average pool when the input divides evenly.
  void adaptive_average_pool(const std::string& path, const nn::AdaptiveAvgPool2dImpl& pool) {
    const int64_t h = probe_.size(-2), w = probe_.size(-1);
    const auto& size = *pool.options.output_size();
    const int64_t oh = size[0].has_value() ? *size[0] : h, ow = size[1].has_value() ? *size[1] : w;
    if (oh == 1 && ow == 1) {
      current_ = node("GlobalAveragePool", path, {current_});
      return;
    }
    if (h == 1 && w == 1) {
      current_ = node("Expand", path, {current_, shape_constant(path + ".shape", {1, 1, oh, ow})});
      return;
    }
    if (h % oh != 0 || w % ow != 0) {
      refuse(path, fmt::format("an adaptive average pool from {}x{} to {}x{}", h, w, oh, ow));
    }
    const std::vector<int64_t> kernel = {h / oh, w / ow};
    current_ = node("AveragePool", path, {current_},
                    {Attribute::of_ints("kernel_shape", kernel), Attribute::of_ints("strides", kernel)});
  }

  void flatten_layer(const std::string& path, const nn::FlattenImpl& flatten) {
    const auto& o = flatten.options;
    if (o.start_dim() != 1 || (o.end_dim() != -1 && o.end_dim() != probe_.dim() - 1)) {
      refuse(path, fmt::format("a flatten of dimensions {}..{}", o.start_dim(), o.end_dim()));
    }
    current_ = node("Flatten", path, {current_}, {Attribute::of_int("axis", 1)});
  }

  // GELU(x) = x * 0.5 * (1 + erf(x / sqrt 2)): ONNX has no Gelu before opset 20.
  void exact_gelu(const std::string& path, const nn::GELUImpl& gelu) {
    if (gelu.options.approximate() != "none") refuse(path, "a GELU with the tanh approximation");
    const std::string x = current_;
    const std::string scaled = node("Div", path + ".scaled", {x, constant(path + ".sqrt2", torch::tensor(std::sqrt(2.0F)))});
    const std::string erf = node("Erf", path + ".erf", {scaled});
    const std::string plus = node("Add", path + ".plus_one", {erf, constant(path + ".one", torch::tensor(1.0F))});
    const std::string times = node("Mul", path + ".times_x", {x, plus});
    current_ = node("Mul", path, {times, constant(path + ".half", torch::tensor(0.5F))});
  }

  void sequence(const std::string& prefix, nn::SequentialImpl& seq) {
    const auto children = seq.named_children();
    for (size_t i = 0; i < children.size(); ++i) {
      const torch::Tensor layer_input = probe_;  // a composite layer's translation moves the probe itself
      layer(prefix.empty() ? children[i].key() : prefix + "." + children[i].key(), children[i].value());
      probe_ = seq.begin()[static_cast<std::ptrdiff_t>(i)].forward(layer_input);
    }
  }

  // A residual block as BasicBlockImpl::forward computes it, both orderings.
  void basic_block(const std::string& path, BasicBlockImpl& block) {
    const torch::Tensor block_input = probe_;
    const std::string x = current_;
    const auto run = [&](const std::string& name, const std::shared_ptr<nn::Module>& m,
                         const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
      layer(path + "." + name, m);
      probe_ = forward(probe_);
    };
    std::string shortcut = x;
    const auto downsample = [&](const torch::Tensor& from) {
      if (!block.downsample) return;
      probe_ = from;
      sequence(path + ".downsample", *block.downsample);
      shortcut = current_;
    };
    if (block.options.preact()) {
      run("bn1", block.bn1.ptr(), [&](const torch::Tensor& t) { return block.bn1(t); });
      unary(path + ".relu1", "Relu"), probe_ = torch::relu(probe_);
      const std::string a = current_;
      const torch::Tensor a_probe = probe_;
      downsample(a_probe);
      current_ = a, probe_ = a_probe;
      run("conv1", block.conv1.ptr(), [&](const torch::Tensor& t) { return block.conv1(t); });
      run("bn2", block.bn2.ptr(), [&](const torch::Tensor& t) { return block.bn2(t); });
      unary(path + ".relu2", "Relu"), probe_ = torch::relu(probe_);
      run("conv2", block.conv2.ptr(), [&](const torch::Tensor& t) { return block.conv2(t); });
      current_ = node("Add", path + ".add", {current_, shortcut});
    } else {
      downsample(block_input);
      current_ = x, probe_ = block_input;
      run("conv1", block.conv1.ptr(), [&](const torch::Tensor& t) { return block.conv1(t); });
      run("bn1", block.bn1.ptr(), [&](const torch::Tensor& t) { return block.bn1(t); });
      unary(path + ".relu1", "Relu"), probe_ = torch::relu(probe_);
      run("conv2", block.conv2.ptr(), [&](const torch::Tensor& t) { return block.conv2(t); });
      run("bn2", block.bn2.ptr(), [&](const torch::Tensor& t) { return block.bn2(t); });
      current_ = node("Add", path + ".add", {current_, shortcut});
      unary(path + ".relu", "Relu");
    }
    probe_ = block.forward(block_input);
  }

  io::onnx::Graph& graph_;
  torch::Tensor probe_;
  std::string current_;
};

}  // namespace

io::onnx::Model to_onnx(NetworkImpl& model, const OnnxExportOptions& options) {
  if (model.stages().empty()) {
    throw_usage("onnx export: this model has no layers deepl translates (a TorchScript module: export it with "
                "torch.onnx in Python, or use --format torchscript)");
  }
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const auto& shape = options.input.shape;
  std::vector<int64_t> probe_shape = {1};
  probe_shape.insert(probe_shape.end(), shape.begin(), shape.end());
  if (options.input.table) probe_shape = {1, shape.back()};
  io::onnx::Model m;
  m.graph.name = options.graph_name;
  m.metadata = options.metadata;
  try {
    GraphBuilder builder(m.graph, torch::zeros(probe_shape));
    builder.input(options.input);
    for (const auto& stage : model.stages()) {
      nn::Sequential layers = stage.layers;
      builder.stage(stage.name, *layers);
    }
    builder.output(options);
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return m;
}

}  // namespace deepl::models
