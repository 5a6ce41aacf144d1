#include "deepl/eval/metrics.h"

#include "deepl/core/csv.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "deepl/core/device.h"
#include "deepl/data/dataset.h"
#include "deepl/eval/inference.h"

namespace deepl::eval {


void accumulate_confusion(torch::Tensor& confusion, const torch::Tensor& targets, const torch::Tensor& predictions) {
  const int64_t k = confusion.size(0);
  confusion += torch::bincount(targets * k + predictions, {}, k * k).view({k, k});
}

Metrics metrics_from_confusion(const torch::Tensor& confusion, double loss_sum) {
  Metrics m;
  m.confusion = confusion.to(torch::kInt64).contiguous();
  const int64_t k = m.confusion.size(0);
  const auto cm = m.confusion.accessor<int64_t, 2>();
  int64_t total = 0, correct = 0;
  std::vector<int64_t> row(k, 0), col(k, 0);
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      total += cm[i][j];
      row[i] += cm[i][j];
      col[j] += cm[i][j];
    }
    correct += cm[i][i];
  }
  m.examples = total;
  m.accuracy = total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0;
  m.loss = total ? loss_sum / static_cast<double>(total) : 0.0;
  double f1_sum = 0;
  for (int64_t c = 0; c < k; ++c) {
    ClassMetrics cls;
    cls.support = row[c];
    cls.precision = col[c] ? static_cast<double>(cm[c][c]) / static_cast<double>(col[c]) : 0.0;
    cls.recall = row[c] ? static_cast<double>(cm[c][c]) / static_cast<double>(row[c]) : 0.0;
    const double pr = cls.precision + cls.recall;
    cls.f1 = pr > 0 ? 2 * cls.precision * cls.recall / pr : 0.0;
    f1_sum += cls.f1;
    m.per_class.push_back(cls);
  }
  m.macro_f1 = k ? f1_sum / static_cast<double>(k) : 0.0;
  return m;
}

Metrics metrics_from_regression_sums(const torch::Tensor& sums, double loss_sum, double target_std) {
  const torch::Tensor s = sums.to(torch::kFloat64).cpu().contiguous();
  const double* v = s.data_ptr<double>();
  const double n = v[0], squared = v[1], absolute = v[2], total = v[3], total_squared = v[4];
  Metrics m;
  m.examples = static_cast<int64_t>(n);
  m.regression_sums = s;
  if (n == 0) return m;
  const double deviations = total_squared - total * total / n;
  RegressionMetrics r;
  r.r2 = deviations > 0 ? 1.0 - squared / deviations : 0.0;
  r.rmse = std::sqrt(squared / n) * target_std;
  r.mae = absolute / n * target_std;
  m.regression = r;
  m.loss = loss_sum / n;
  return m;
}

std::string confusion_to_csv(const torch::Tensor& confusion, const std::vector<std::string>& class_names) {
  const auto cm = confusion.accessor<int64_t, 2>();
  std::string out = "true\\predicted";
  for (const auto& name : class_names) out += "," + deepl::csv_field(name);
  out += "\n";
  for (int64_t i = 0; i < confusion.size(0); ++i) {
    out += deepl::csv_field(class_names.at(static_cast<size_t>(i)));
    for (int64_t j = 0; j < confusion.size(1); ++j) out += "," + std::to_string(cm[i][j]);
    out += "\n";
  }
  return out;
}

torch::Tensor loss_sum(models::Task task, const torch::Tensor& outputs, const torch::Tensor& targets,
                       double label_smoothing) {
  namespace F = torch::nn::functional;
  if (task == models::Task::kBinary) {
    return F::binary_cross_entropy_with_logits(outputs.squeeze(1), targets.to(outputs.scalar_type()),
                                               F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum));
  }
  if (task == models::Task::kRegression) {
    return F::mse_loss(outputs.reshape(targets.sizes()), targets.to(outputs.scalar_type()),
                       F::MSELossFuncOptions().reduction(torch::kSum));
  }
  return F::cross_entropy(outputs, targets,
                          F::CrossEntropyFuncOptions().reduction(torch::kSum).label_smoothing(label_smoothing));
}

torch::Tensor predict_classes(models::Task task, const torch::Tensor& outputs) {
  if (task == models::Task::kBinary) return (outputs.squeeze(1) > 0).to(torch::kInt64);
  return outputs.argmax(1);
}

torch::Tensor class_probabilities(models::Task task, const torch::Tensor& outputs) {
  if (task == models::Task::kBinary) {
    const torch::Tensor p = torch::sigmoid(outputs.squeeze(1).to(torch::kFloat32));
    return torch::stack({1 - p, p}, 1);
  }
  return torch::softmax(outputs.to(torch::kFloat32), 1);
}

namespace {

// Adds a regression batch's [examples, squared errors, absolute errors, targets, squared targets].
void accumulate_regression(torch::Tensor& sums, const torch::Tensor& targets, const torch::Tensor& values) {
  const torch::Tensor y = targets.to(torch::kFloat64), error = values.to(torch::kFloat64) - y;
  sums += torch::stack({torch::full({}, static_cast<double>(y.numel()), sums.options()), error.square().sum(),
                        error.abs().sum(), y.sum(), y.square().sum()});
}

}  // namespace

Evaluation evaluate(models::NetworkImpl& model, models::Task task, const data::BatchLoader& loader, int64_t num_classes,
                    const deepl::Precision& precision, TestTimeAugmentation tta) {
  torch::InferenceMode guard;
  const bool was_training = model.is_training();
  model.eval();
  const bool regression = task == models::Task::kRegression;
  const data::Dataset& data = loader.dataset();
  const auto on_device = torch::TensorOptions().device(device_of(model));
  torch::Tensor confusion = torch::zeros({num_classes, num_classes}, on_device.dtype(torch::kInt64));
  torch::Tensor sums = torch::zeros({5}, on_device.dtype(torch::kFloat64));
  torch::Tensor total_loss = torch::zeros({}, on_device.dtype(torch::kFloat64));
  std::vector<torch::Tensor> indices, predictions, confidence;
  const InferencePlan plan(model, precision, tta);
  for (int64_t i = 0; i < loader.num_batches(); ++i) {
    const data::Batch batch = loader.batch(i);
    if (batch.targets.size(0) == 0) continue;  // a rank's empty share of the last batch
    const torch::Tensor outputs = plan.forward(batch.inputs);
    total_loss += loss_sum(task, outputs, batch.targets).to(torch::kFloat64);
    indices.push_back(batch.indices);
    if (regression) {
      const torch::Tensor values = outputs.reshape(batch.targets.sizes()).to(torch::kFloat32);
      accumulate_regression(sums, batch.targets, values);
      predictions.push_back(data::in_target_units(values, data.target_mean, data.target_std).cpu());
      continue;
    }
    const torch::Tensor predicted = predict_classes(task, outputs);
    accumulate_confusion(confusion, batch.targets, predicted);
    predictions.push_back(predicted.cpu());
    confidence.push_back(std::get<0>(class_probabilities(task, outputs).max(1)).cpu());
  }
  model.train(was_training);
  Evaluation e;
  e.metrics = regression ? metrics_from_regression_sums(sums, total_loss.item<double>(), data.target_std)
                         : metrics_from_confusion(confusion.cpu(), total_loss.item<double>());
  e.indices = indices.empty() ? torch::empty({0}, torch::kInt64) : torch::cat(indices);
  const auto no_predictions = regression ? torch::kFloat64 : torch::kInt64;
  e.predictions = predictions.empty() ? torch::empty({0}, no_predictions) : torch::cat(predictions);
  e.confidence = confidence.empty() ? torch::empty({0}) : torch::cat(confidence);
  return e;
}

}  // namespace deepl::eval
