#pragma once
// Classification metrics from a confusion matrix, and the evaluator that builds one.
#include <torch/types.h>

#include <string>
#include <vector>

#include "deepl/data/loader.h"
#include "deepl/eval/tta.h"
#include "deepl/models/network.h"
#include "deepl/models/registry.h"
#include "deepl/core/precision.h"

namespace deepl::eval {

struct ClassMetrics {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

struct Metrics {
  double loss = 0;
  double accuracy = 0;
  int64_t examples = 0;
  torch::Tensor confusion;  // int64 [K, K]: rows true class, columns predicted class
  std::vector<ClassMetrics> per_class;
  double macro_f1 = 0;
};

/// Accuracy, per-class precision/recall/F1 (0 where undefined) and macro F1 from a confusion
/// matrix; `loss_sum` is the summed loss over all examples.
Metrics metrics_from_confusion(const torch::Tensor& confusion, double loss_sum);
/// Adds the (target, prediction) pairs to a [K, K] confusion matrix in one bincount.
void accumulate_confusion(torch::Tensor& confusion, const torch::Tensor& targets, const torch::Tensor& predictions);
/// The confusion matrix as CSV with a header row and a "true\\predicted" corner.
std::string confusion_to_csv(const torch::Tensor& confusion, const std::vector<std::string>& class_names);

/// Loss per example summed over the batch, and the predicted classes, for a model's task.
torch::Tensor loss_sum(models::Task task, const torch::Tensor& outputs, const torch::Tensor& targets,
                       double label_smoothing = 0.0);
torch::Tensor predict_classes(models::Task task, const torch::Tensor& outputs);
/// Class probabilities [B, K] from outputs (softmax, or sigmoid for binary).
torch::Tensor class_probabilities(models::Task task, const torch::Tensor& outputs);

struct Evaluation {
  Metrics metrics;
  torch::Tensor indices;      // int64 [N]: data-set positions in evaluation order
  torch::Tensor predictions;  // int64 [N]
  torch::Tensor confidence;   // float [N]: probability given to the predicted class
};

/// Runs the model over every batch in inference mode and collects metrics and predictions;
/// `tta`: with test-time augmentation (see InferencePlan).
Evaluation evaluate(models::NetworkImpl& model, models::Task task, const data::BatchLoader& loader,
                    int64_t num_classes, const deepl::Precision& precision = {}, TestTimeAugmentation tta = {});

}  // namespace deepl::eval
