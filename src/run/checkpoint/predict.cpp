// `deepl predict`: a checkpoint's top-k classes for IDX files, image files and folders of images,
// or, for a model trained on a table, the rows of a CSV file (a regression's: the predicted value).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/data/dataset.h"
#include "deepl/data/framing.h"
#include "deepl/data/idx.h"
#include "deepl/data/image.h"
#include "deepl/data/sources.h"
#include "deepl/eval/inference.h"
#include "deepl/run/checkpoint_use.h"
#include "common/assembly.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kBatch = 256;  // images decoded, framed and predicted together

// Runs batches of uint8 images through the model and prints each one's top-k classes.
class Predictor {
 public:
  Predictor(const LoadedModel& m, const PredictOptions& options, std::ostream& out)
      : m_(m),
        options_(options),
        out_(out),
        plan_(*m.model, m.plan.precision, m.plan.tta),
        k_(std::clamp<int64_t>(options.top_k, 1, static_cast<int64_t>(m.stats.class_names.size()))) {
    if (options.format == "table") {
      out_ << fmt::format("{:<40} {}\n", "input",
                          regression() ? "predicted " + m.stats.class_names.at(0) : "top classes (probability)");
    }
  }

  // `images`: uint8 [N, C, H, W] as the model takes them, or a table's standardised float [N, F];
  // `inputs`: what to call each in the output.
  void predict(const torch::Tensor& images, const std::vector<json>& inputs) {
    if (images.size(0) == 0) return;
    const data::Dataset dataset{"input", images, torch::zeros({images.size(0)}, torch::kInt64), m_.stats.class_names};
    data::LoaderOptions o;
    o.batch_size = images.size(0);
    o.normalization = m_.stats.normalization;
    const data::BatchLoader loader(dataset, torch::Tensor(), o);
    torch::InferenceMode guard;
    const torch::Tensor outputs = plan_.forward(loader.batch(0).inputs);
    predicted_ += images.size(0);
    if (regression()) {
      const torch::Tensor values = data::in_target_units(outputs.reshape(-1), m_.stats.target_mean, m_.stats.target_std);
      for (int64_t i = 0; i < values.size(0); ++i) write_value(inputs.at(static_cast<size_t>(i)), values[i].item<double>());
      return;
    }
    const torch::Tensor probs = eval::class_probabilities(m_.plan.model.task, outputs);
    const auto [values, classes] = probs.topk(k_, 1);
    for (int64_t i = 0; i < probs.size(0); ++i) write(inputs.at(static_cast<size_t>(i)), values[i], classes[i]);
  }

  int64_t predicted() const { return predicted_; }

 private:
  bool regression() const { return m_.plan.model.task == models::Task::kRegression; }

  static std::string shown_name(const json& input) { return input.is_string() ? input.get<std::string>() : input.dump(); }

  void write_value(const json& input, double value) {
    if (options_.format == "table") {
      out_ << fmt::format("{:<40} {:.6g}\n", shown_name(input), value);
    } else {
      out_ << json{{"index", input}, {"value", value}}.dump() << "\n";
    }
  }

  void write(const json& input, const torch::Tensor& values, const torch::Tensor& classes) {
    json top = json::array();
    std::string shown;
    for (int64_t j = 0; j < k_; ++j) {
      const int64_t c = classes[j].item<int64_t>();
      const double p = values[j].item<double>();
      const std::string& name = m_.stats.class_names.at(static_cast<size_t>(c));
      top.push_back({{"class", c}, {"name", name}, {"probability", p}});
      shown += fmt::format("{}{} {:.1f}%", j ? "  " : "", name, 100 * p);
    }
    if (options_.format == "table") {
      out_ << fmt::format("{:<40} {}\n", shown_name(input), shown);
    } else {
      json line = input.is_string() ? json{{"file", input}} : json{{"index", input}};
      line["top"] = std::move(top);
      out_ << line.dump() << "\n";
    }
  }

  const LoadedModel& m_;
  const PredictOptions& options_;
  std::ostream& out_;
  const eval::InferencePlan plan_;
  const int64_t k_;
  int64_t predicted_ = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("{}", fmt::join(shape, "x")); }

// IDX images as [N, C, H, W] for a model taking `shape` = [C, H, W]; a clear error for anything else.
torch::Tensor idx_images(const fs::path& input, const std::vector<int64_t>& shape) {
  torch::Tensor images = data::read_idx(input);
  const std::vector<int64_t> found(images.sizes().begin(), images.sizes().end());
  auto refuse = [&](const std::string& what) {
    throw_data(fmt::format("{}: {}: found an array of shape {} ({}); the model expects uint8 images {}", input.string(),
                           what, shape_text(found), c10::toString(images.scalar_type()), shape_text(shape)));
  };
  if (images.dim() == 1) refuse("holds no images (a labels file?)");
  if (images.scalar_type() != torch::kUInt8) refuse("holds no uint8 images");
  if (images.dim() == 2 || (images.dim() == 3 && shape[0] > 1 && images.size(0) == shape[0]))
    images = images.unsqueeze(0);
  if (images.dim() == 3) images = images.unsqueeze(1);
  const std::vector<int64_t> each(images.sizes().begin() + 1, images.sizes().end());
  if (each != shape) refuse("the images have another size");
  return images;
}

PredictSummary predict_idx(const fs::path& input, Predictor& predictor, const LoadedModel& m,
                           const PredictOptions& options) {
  const torch::Tensor images = idx_images(input, m.stats.input_shape);
  for (int64_t start = 0; start < images.size(0); start += kBatch) {
    const torch::Tensor chunk = images.narrow(0, start, std::min(kBatch, images.size(0) - start));
    std::vector<json> indices;
    for (int64_t i = 0; i < chunk.size(0); ++i) {
      indices.emplace_back(start + i);
      if (options.save_inputs) data::write_png(*options.save_inputs / fmt::format("{:06d}.png", start + i), chunk[i]);
    }
    predictor.predict(chunk, indices);
  }
  return {predictor.predicted(), 0};
}

// An image file decoded and framed as the model's data set was: a folder's pictures resized as
// training resized them, others framed as MNIST's or Fashion-MNIST's were. Errors name the file.
torch::Tensor framed_image(const fs::path& file, const data::FramingOptions& framing, const LoadedModel& m) {
  const auto& shape = m.stats.input_shape;
  try {
    const torch::Tensor image = data::read_image(file, static_cast<int>(shape.at(0)));
    if (m.plan.data.source.kind == data::SourceKind::kFolder) {
      return data::resize_picture(image, shape.at(1), shape.at(2), m.plan.data.source.folder.resize);
    }
    return data::frame_image(image, framing);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.rfind(file.string(), 0) == 0) throw;
    throw Error(e.kind(), file.string() + ": " + message);
  }
}

PredictSummary predict_images(const fs::path& input, Predictor& predictor, const LoadedModel& m,
                              const PredictOptions& options) {
  const bool folder = fs::is_directory(input);
  const std::vector<fs::path> files = folder ? data::list_images(input, options.recursive) : std::vector<fs::path>{input};
  // --save-inputs names each PNG after its input, relative to the folder given.
  const fs::path base = folder ? input : input.parent_path();
  if (files.empty()) {
    throw_data(fmt::format("{}: no image files (.png .jpg .jpeg .bmp .pgm .ppm .pnm){}", input.string(),
                           options.recursive ? "" : " (sub-folders too: --recursive)"));
  }
  const auto& shape = m.stats.input_shape;
  const data::FramingOptions framing{data::framing_for_dataset(m.stats.dataset), data::parse_invert(options.invert),
                                     shape.at(1), shape.at(2)};
  PredictSummary summary;
  for (size_t start = 0; start < files.size(); start += kBatch) {
    std::vector<torch::Tensor> images;
    std::vector<json> names;
    for (size_t i = start; i < std::min(files.size(), start + kBatch); ++i) {
      try {
        images.push_back(framed_image(files[i], framing, m));
      } catch (const Error& e) {
        spdlog::error("{}", e.what());
        ++summary.failed;
        continue;
      }
      names.emplace_back(files[i].string());
      if (options.save_inputs) {
        data::write_png(*options.save_inputs / files[i].lexically_relative(base).replace_extension(".png"), images.back());
      }
    }
    if (!images.empty()) predictor.predict(torch::stack(images), names);
  }
  summary.predicted = predictor.predicted();
  return summary;
}

// A CSV file's rows for a model trained on a table: its feature columns by name, standardised as in
// training; each row's output is named by its position below the header (from 0).
PredictSummary predict_table(const fs::path& input, Predictor& predictor, const LoadedModel& m) {
  if (fs::is_directory(input) || data::is_image_file(input)) {
    throw_usage(fmt::format("{}: this checkpoint's model was trained on a table; give it a CSV file with the columns {}",
                            input.string(), fmt::join(m.stats.features, ", ")));
  }
  const torch::Tensor rows =
      data::csv_feature_rows(input, m.stats.features, m.stats.normalization.mean, m.stats.normalization.std);
  for (int64_t start = 0; start < rows.size(0); start += kBatch) {
    const torch::Tensor chunk = rows.narrow(0, start, std::min(kBatch, rows.size(0) - start));
    std::vector<json> indices;
    for (int64_t i = 0; i < chunk.size(0); ++i) indices.emplace_back(start + i);
    predictor.predict(chunk, indices);
  }
  return {predictor.predicted(), 0};
}

}  // namespace

PredictSummary predict(const fs::path& checkpoint, const fs::path& input, const PredictOptions& options,
                       std::ostream& out) {
  if (options.format != "jsonl" && options.format != "table") {
    throw_usage("--format: expected jsonl or table, got \"" + options.format + "\"");
  }
  data::parse_invert(options.invert);  // a bad value is refused before any work
  const LoadedModel m = load_model_from_checkpoint(checkpoint);
  Predictor predictor(m, options, out);
  const bool table = !m.stats.features.empty();
  if (!table && input.extension() == ".csv") {
    throw_usage(input.string() + ": a table; this checkpoint's model was trained on pictures (give it images or IDX files)");
  }
  const bool images = fs::is_directory(input) || data::is_image_file(input);
  const PredictSummary summary = table    ? predict_table(input, predictor, m)
                                 : images ? predict_images(input, predictor, m, options)
                                          : predict_idx(input, predictor, m, options);
  spdlog::info("predicted {} {} from {}{}{}", summary.predicted, table ? "row(s)" : "image(s)", input.string(),
               summary.failed ? fmt::format(", {} could not be read", summary.failed) : "",
               options.save_inputs ? ", model inputs written to " + options.save_inputs->string() : "");
  return summary;
}

}  // namespace deepl::run
