#pragma once
// What a checkpoint is good for after training: evaluation, prediction, export, and the layer
// table of an experiment's model. Each rebuilds the model from the checkpoint alone.
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "deepl/config/config.h"
#include "deepl/eval/metrics.h"

namespace deepl::run {

struct EvalOptions {
  std::string split = "test";  // test | val
  std::optional<std::filesystem::path> out_dir;  // default: <run dir>/eval-<split>
  int threads = 0;
  bool quiet = false;
  /// Test-time augmentation in place of the run's eval.tta ("hflip", "shift"; empty: none).
  std::optional<std::vector<std::string>> tta;
};

/// Rebuilds the model from a checkpoint alone, evaluates it and writes metrics and figures.
eval::Metrics evaluate_checkpoint(const std::filesystem::path& checkpoint, const EvalOptions& options);

struct PredictOptions {
  int top_k = 3;
  bool recursive = false;         // a folder input: its sub-folders too
  std::string invert = "auto";    // image inputs: auto | yes | no (see data::FramingOptions)
  std::string format = "jsonl";   // jsonl | table
  /// Where to write what the model saw, as PNGs (before normalisation), named after the inputs.
  std::optional<std::filesystem::path> save_inputs;
};

struct PredictSummary {
  int64_t predicted = 0;
  int64_t failed = 0;  // image files that could not be read or framed (one error line each)
};

/// Predicts the top-k classes of every image in `input`: an IDX file of images (one JSON line per
/// index), an image file (PNG, JPEG, BMP, PGM/PPM) or a folder of them (sorted; one line per file).
/// Images are framed as the checkpoint's data set was (data::frame_image) and normalised with the
/// statistics stored in the checkpoint. A bad image file is logged and counted, the others predicted.
PredictSummary predict(const std::filesystem::path& checkpoint, const std::filesystem::path& input,
                       const PredictOptions& options, std::ostream& out);

/// Writes a checkpoint's weights as a PyTorch state dict (torch.load returns it; the equivalent
/// PyTorch model's load_state_dict(strict=True) accepts it).
void export_weights(const std::filesystem::path& checkpoint, const std::filesystem::path& out);

/// Writes a checkpoint's model as an ONNX file (opset 13, models::to_onnx): input "input" (float
/// pixels 0..255 as [N, C, H, W], or a table's raw feature columns as [N, F]) with the checkpoint's
/// normalisation folded into the graph, output "logits"; class names, input spec and provenance in
/// the metadata. A model with a layer ONNX cannot express is refused by name and no file is written.
void export_onnx(const std::filesystem::path& checkpoint, const std::filesystem::path& out);

/// Writes a model.type "torchscript" checkpoint's module with its trained weights, in eval mode,
/// loadable by torch.jit.load in Python and by LibTorch; other model types are refused by name.
void export_torchscript(const std::filesystem::path& checkpoint, const std::filesystem::path& out);

/// The layer table of the experiment's model (shapes, parameters, FLOPs).
std::string model_summary(const config::Experiment& experiment);

}  // namespace deepl::run
