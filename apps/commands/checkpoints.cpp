// What a checkpoint is used for: `deepl eval`, `deepl predict`, `deepl export`.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "../cli_common.h"
#include "commands.h"
#include "deepl/run/checkpoint_use.h"
#include "deepl/run/reports.h"

namespace deepl::cli {

namespace {

struct EvalArgs {
  std::string checkpoint, split = "test", out_dir;
  std::vector<std::string> tta;
  int threads = -1;
  bool quiet = false;
};

struct PredictArgs {
  std::string checkpoint, input, save_inputs;
  run::PredictOptions options;
  bool quiet = false;
};

struct ExportArgs {
  std::string checkpoint, out;
  std::string format = "pth";
};

int evaluate(const EvalArgs& a) {
  if (a.quiet) setup_logging(true);
  run::EvalOptions o;
  o.split = a.split;
  o.threads = std::max(0, a.threads);
  o.quiet = a.quiet;
  if (!a.out_dir.empty()) o.out_dir = a.out_dir;
  if (!a.tta.empty()) o.tta = a.tta == std::vector<std::string>{"none"} ? std::vector<std::string>{} : a.tta;
  const auto m = run::evaluate_checkpoint(a.checkpoint, o);
  if (m.regression) {
    fmt::print("{} {}: {} ({} examples)\n", a.checkpoint, a.split, run::metrics_summary(m), m.examples);
  } else {
    fmt::print("{} {}: accuracy {:.4f} loss {:.4f} macro-F1 {:.4f} ({} examples)\n", a.checkpoint, a.split, m.accuracy,
               m.loss, m.macro_f1, m.examples);
  }
  return 0;
}

int predict(PredictArgs a) {
  if (a.quiet) setup_logging(true);
  if (!a.save_inputs.empty()) a.options.save_inputs = a.save_inputs;
  const auto predicted = run::predict(a.checkpoint, a.input, a.options, std::cout);
  if (predicted.failed == 0) return 0;
  spdlog::error("{} of {} image files could not be predicted (see above)", predicted.failed,
                predicted.failed + predicted.predicted);
  return 1;
}

}  // namespace

Subcommand eval_command() {
  return {"eval", "evaluate a checkpoint; writes metrics and the confusion matrix", [](CLI::App& app, const Invocation&) -> Runner {
            auto a = std::make_shared<EvalArgs>();
            app.add_option("--checkpoint", a->checkpoint, "checkpoint file")->required()->check(CLI::ExistingFile);
            app.add_option("--split", a->split, "test or val")->check(CLI::IsMember({"test", "val"}));
            app.add_option("--out", a->out_dir, "report folder (default: <run>/eval-<split>)");
            app.add_option("--threads", a->threads, "LibTorch intra-op threads (0 = all cores)");
            app.add_option("--tta", a->tta,
                           "test-time augmentation in place of the run's eval.tta: hflip, shift, both "
                           "(hflip,shift) or none")
                ->delimiter(',');
            app.add_flag("--quiet,-q", a->quiet, "warnings and errors only");
            return [a] { return evaluate(*a); };
          }};
}

Subcommand predict_command() {
  return {"predict", "top-k classes of images: an IDX file, image files or a folder of them",
          [](CLI::App& app, const Invocation&) -> Runner {
            auto a = std::make_shared<PredictArgs>();
            app.footer(std::string("Image files (PNG, JPEG, BMP, PGM/PPM) are framed as the model's data set was "
                                   "(MNIST: inverted if dark on light, cropped, fitted to 20x20, centred). ") +
                       kExitCodes);
            app.add_option("--checkpoint", a->checkpoint, "checkpoint file")->required()->check(CLI::ExistingFile);
            app.add_option("--input", a->input, "IDX images (raw or .gz), an image file, or a folder of images")
                ->required()
                ->check(CLI::ExistingPath);
            app.add_option("--top-k", a->options.top_k, "classes per image")->check(CLI::PositiveNumber);
            app.add_flag("--recursive,-r", a->options.recursive, "a folder: its sub-folders too");
            app.add_option("--invert", a->options.invert,
                           "image files: make dark-on-light pictures light-on-dark like MNIST (auto: when the border "
                           "is light)")
                ->check(CLI::IsMember({"auto", "yes", "no"}));
            app.add_option("--format", a->options.format, "jsonl (one JSON object per image) or table")
                ->check(CLI::IsMember({"jsonl", "table"}));
            app.add_option("--save-inputs", a->save_inputs,
                           "write what the model saw (after framing) as PNGs into this folder");
            app.add_flag("--quiet,-q", a->quiet, "warnings and errors only");
            return [a] { return predict(*a); };
          }};
}

Subcommand export_command() {
  return {"export", "write a checkpoint's model for use outside deepl: a PyTorch state dict (.pth), an ONNX model or a "
                    "TorchScript module",
          [](CLI::App& app, const Invocation&) -> Runner {
            auto a = std::make_shared<ExportArgs>();
            app.add_option("--checkpoint", a->checkpoint, "checkpoint file")->required()->check(CLI::ExistingFile);
            app.add_option("--out", a->out, "output file (.pth, .onnx or .pt)")->required();
            app.add_option("--format", a->format,
                           "pth: the weights, for load_state_dict in Python; onnx: the model in eval mode with its "
                           "input normalisation (opset 13, dynamic batch), for onnxruntime and other ONNX runtimes; "
                           "torchscript: a model.type torchscript module with its trained weights, for torch.jit.load")
                ->check(CLI::IsMember({"pth", "onnx", "torchscript"}));
            return [a] {
              if (a->format == "torchscript") {
                run::export_torchscript(a->checkpoint, a->out);
                fmt::print("wrote {} (load with torch.jit.load in Python or LibTorch)\n", a->out);
              } else if (a->format == "onnx") {
                run::export_onnx(a->checkpoint, a->out);
                fmt::print("wrote {} (input \"input\", output \"logits\"; class names and input spec in its metadata)\n",
                           a->out);
              } else {
                run::export_weights(a->checkpoint, a->out);
                fmt::print("wrote {} (load in Python with torch.load and load_state_dict)\n", a->out);
              }
              return 0;
            };
          }};
}

}  // namespace deepl::cli
