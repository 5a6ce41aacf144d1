#pragma once
// Classification metrics from a confusion matrix, regression metrics from summed errors, and the
// evaluator that gathers either.
#include <torch/types.h>

#include <optional>
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

/// A regression's fit, in the target's own units (rmse, mae).
struct RegressionMetrics {
  double r2 = 0;  // 1 - squared errors / the targets' squared deviations from their mean
  double rmse = 0, mae = 0;
};

struct Metrics {
  double loss = 0;      // mean loss per example (a regression's: on standardised targets)
  double accuracy = 0;  // classification
  int64_t examples = 0;
  torch::Tensor confusion;  // int64 [K, K]: rows true class, columns predicted class (classification)
  std::vector<ClassMetrics> per_class;
  double macro_f1 = 0;
  std::optional<RegressionMetrics> regression;  // set for a regression, which has no confusion matrix
  /// float64 [5] (regression): examples and sums of squared errors, absolute errors, targets and
  /// squared targets, on standardised targets; what ranks add up.
  torch::Tensor regression_sums;
};

/// Accuracy, per-class precision/recall/F1 (0 where undefined) and macro F1 from a confusion
/// matrix; `loss_sum` is the summed loss over all examples.
Metrics metrics_from_confusion(const torch::Tensor& confusion, double loss_sum);
/// A regression's metrics from its summed errors (see Metrics::regression_sums); `target_std`
/// brings rmse and mae back to the target's units.
Metrics metrics_from_regression_sums(const torch::Tensor& sums, double loss_sum, double target_std);
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
  torch::Tensor predictions;  // int64 [N] classes; a regression's float [N] values in the target's units
  torch::Tensor confidence;   // float [N]: probability given to the predicted class (empty for a regression)
};

/// Runs the model over every batch in inference mode and collects metrics and predictions;
/// `tta`: with test-time augmentation (see InferencePlan). A regression's targets and outputs are
/// standardised; its predictions and rmse/mae come back in the units of the loader's data set.
Evaluation evaluate(models::NetworkImpl& model, models::Task task, const data::BatchLoader& loader,
                    int64_t num_classes, const deepl::Precision& precision = {}, TestTimeAugmentation tta = {});

}  // namespace deepl::eval
