#include <gtest/gtest.h>

#include "deepl/eval/metrics.h"
#include "deepl/run/reports.h"

using namespace deepl;

TEST(Metrics, HandComputedConfusionPrecisionRecallF1) {
  // true:      0 0 0 1 1 2
  // predicted: 0 0 1 1 2 2
  torch::Tensor confusion = torch::zeros({3, 3}, torch::kInt64);
  eval::accumulate_confusion(confusion, torch::tensor({0, 0, 0, 1, 1, 2}), torch::tensor({0, 0, 1, 1, 2, 2}));
  EXPECT_TRUE(torch::equal(confusion, torch::tensor({2, 1, 0, 0, 1, 1, 0, 0, 1}).view({3, 3})));
  const auto m = eval::metrics_from_confusion(confusion, 3.0);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.loss, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.8);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[2].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[2].recall, 1.0);
  EXPECT_NEAR(m.per_class[2].f1, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0, 1e-12);
  EXPECT_EQ(m.per_class[0].support, 3);
}

TEST(Metrics, ClassNeverPredictedHasZeroPrecisionNotNaN) {
  const auto m = eval::metrics_from_confusion(torch::tensor({3, 0, 2, 0}, torch::kInt64).view({2, 2}), 0.0);
  EXPECT_EQ(m.per_class[1].precision, 0.0);
  EXPECT_EQ(m.per_class[1].f1, 0.0);
}

TEST(Metrics, CsvAndJsonCarryClassNames) {
  const torch::Tensor cm = torch::tensor({5, 1, 0, 4}, torch::kInt64).view({2, 2});
  EXPECT_EQ(eval::confusion_to_csv(cm, {"T-shirt/top", "Bag, small"}),
            "true\\predicted,T-shirt/top,\"Bag, small\"\nT-shirt/top,5,1\n\"Bag, small\",0,4\n");
  const auto j = run::metrics_to_json(eval::metrics_from_confusion(cm, 1.0), {"a", "b"});
  EXPECT_EQ(j["confusion_matrix"], nlohmann::json({{5, 1}, {0, 4}}));
  EXPECT_EQ(j["per_class"][1]["class"], "b");
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.9);
}

TEST(Metrics, BinaryTaskUsesLogitSign) {
  const torch::Tensor logits = torch::tensor({-2.0f, 0.5f, 3.0f}).view({3, 1});
  EXPECT_TRUE(torch::equal(eval::predict_classes(models::Task::kBinary, logits), torch::tensor({0, 1, 1})));
  const torch::Tensor p = eval::class_probabilities(models::Task::kBinary, logits);
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({3})));
}

// nn.CrossEntropyLoss(label_smoothing=e): the target distribution is (1 - e) one-hot + e / K, so
// the loss is (1 - e) * -log p[y] + e * mean_k(-log p[k]).
TEST(Metrics, LabelSmoothingIsPytorchsDefinition) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({6, 4}) * 3, targets = torch::tensor({0, 3, 1, 1, 2, 0});
  const torch::Tensor nll = -torch::log_softmax(logits, 1);
  const double e = 0.1;
  const double expected =
      ((1 - e) * nll.gather(1, targets.unsqueeze(1)).squeeze(1) + e * nll.mean(1)).sum().item<double>();
  EXPECT_NEAR(eval::loss_sum(models::Task::kClassification, logits, targets, e).item<double>(), expected, 1e-4);
  EXPECT_NEAR(eval::loss_sum(models::Task::kClassification, logits, targets).item<double>(),
              nll.gather(1, targets.unsqueeze(1)).sum().item<double>(), 1e-4);
  EXPECT_GT(std::abs(expected - nll.gather(1, targets.unsqueeze(1)).sum().item<double>()), 0.1) << "smoothing matters";
}
