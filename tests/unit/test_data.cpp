#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "../test_util.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;

TEST(Dataset, RegistryKnowsClassNames) {
  const auto fashion = data::dataset_info("fashion-mnist");
  ASSERT_EQ(fashion.class_names.size(), 10u);
  EXPECT_EQ(fashion.class_names[0], "T-shirt/top");
  EXPECT_EQ(fashion.class_names[9], "Ankle boot");
  const std::string msg = error_message([] { data::dataset_info("cifar"); });
  EXPECT_NE(msg.find("known: mnist, fashion-mnist"), std::string::npos) << msg;
}

TEST(Dataset, MissingDataSetSaysHowToFetch) {
  TempDir dir;
  const std::string msg = error_message([&] { data::load_dataset("mnist", data::Split::kTrain, dir.path()); });
  EXPECT_NE(msg.find("deepl data fetch mnist"), std::string::npos) << msg;
}

TEST(Dataset, RootPrecedenceConfigThenEnvThenTheClone) {
  EXPECT_EQ(data::resolve_data_root("/from/config"), "/from/config");
  ::setenv("DEEPL_DATA", "/from/env", 1);
  EXPECT_EQ(data::resolve_data_root(""), "/from/env");
  ::unsetenv("DEEPL_DATA");
  EXPECT_EQ(data::resolve_data_root(""), std::filesystem::path(DEEPL_SOURCE_DIR) / "data");  // the tests run in the clone
}

TEST(Dataset, LoadsRawAndGzipLayouts) {
  for (bool gzip : {false, true}) {
    TempDir dir;
    deepl::testing::write_synthetic_dataset(dir.path(), "fashion-mnist", 50, 20, gzip);
    const auto d = data::load_dataset("fashion-mnist", data::Split::kTest, dir.path());
    EXPECT_EQ(d.size(), 20);
    EXPECT_EQ(d.labels.scalar_type(), torch::kInt64);
    EXPECT_EQ(d.image_shape(), (std::vector<int64_t>{1, 28, 28}));
  }
}

TEST(Dataset, RejectsCountMismatchAndLabelRange) {
  TempDir dir;
  data::write_idx(dir / "x", torch::zeros({4, 28, 28}, torch::kUInt8));
  data::write_idx(dir / "y3", torch::zeros({3}, torch::kUInt8));
  data::write_idx(dir / "ybad", torch::tensor({0, 1, 2, 12}, torch::kUInt8));
  const std::vector<std::string> names(10, "c");
  EXPECT_NE(error_message([&] { data::load_idx_pair(dir / "x", dir / "y3", names); }).find("3 labels for 4 images"),
            std::string::npos);
  EXPECT_NE(error_message([&] { data::load_idx_pair(dir / "x", dir / "ybad", names); }).find("labels span 0..12"),
            std::string::npos);
}

TEST(Split, DeterministicDisjointAndComplete) {
  const torch::Tensor labels = torch::arange(1000, torch::kInt64) % 10;
  const auto a = data::split_train_val(labels, 0.2, 42, false);
  const auto b = data::split_train_val(labels, 0.2, 42, false);
  const auto c = data::split_train_val(labels, 0.2, 43, false);
  EXPECT_TRUE(torch::equal(a.val, b.val));
  EXPECT_FALSE(torch::equal(a.val, c.val));
  EXPECT_EQ(a.val.numel(), 200);
  EXPECT_EQ(a.train.numel(), 800);
  const torch::Tensor all = std::get<0>(torch::cat({a.train, a.val}).sort());
  EXPECT_TRUE(torch::equal(all, torch::arange(1000, torch::kInt64)));
}

TEST(Split, StratifiedKeepsClassShares) {
  torch::Tensor labels = torch::cat({torch::zeros({900}, torch::kInt64), torch::ones({100}, torch::kInt64)});
  const auto s = data::split_train_val(labels, 0.1, 1, true);
  const torch::Tensor val_labels = labels.index_select(0, s.val);
  EXPECT_EQ((val_labels == 0).sum().item<int64_t>(), 90);
  EXPECT_EQ((val_labels == 1).sum().item<int64_t>(), 10);
}

TEST(Split, PermutationIsTheSameEverywhere) {
  // Fixed expectation: torch::randperm with an explicit mt19937 generator, not std::shuffle.
  const torch::Tensor p = data::seeded_permutation(10, 123);
  EXPECT_TRUE(torch::equal(p, data::seeded_permutation(10, 123)));
  EXPECT_TRUE(torch::equal(std::get<0>(p.sort()), torch::arange(10, torch::kInt64)));
}

namespace {
data::Dataset small_dataset(int64_t n) {
  auto [x, y] = deepl::testing::synthetic_digits(n, 10, 5);
  return data::Dataset{"synthetic", x, y.to(torch::kInt64), std::vector<std::string>(10, "c")};
}
}  // namespace

TEST(Loader, EachEpochCoversEveryExampleOnce) {
  const auto d = small_dataset(103);
  data::LoaderOptions o;
  o.batch_size = 10;
  o.shuffle = true;
  o.seed = 9;
  data::BatchLoader loader(d, torch::Tensor(), o);
  EXPECT_EQ(loader.num_batches(), 11);
  std::vector<torch::Tensor> seen_epochs;
  for (int64_t epoch : {1, 2}) {
    loader.set_epoch(epoch);
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < loader.num_batches(); ++i) {
      const auto b = loader.batch(i);
      EXPECT_EQ(b.inputs.sizes(), (std::vector<int64_t>{b.indices.numel(), 1, 28, 28}));
      EXPECT_TRUE(torch::equal(b.targets, d.labels.index_select(0, b.indices)));
      parts.push_back(b.indices);
    }
    const torch::Tensor order = torch::cat(parts);
    EXPECT_TRUE(torch::equal(std::get<0>(order.sort()), torch::arange(103, torch::kInt64)));
    seen_epochs.push_back(order);
  }
  EXPECT_FALSE(torch::equal(seen_epochs[0], seen_epochs[1])) << "epochs must be shuffled differently";
}

TEST(Loader, DropLastAndSubsetIndices) {
  const auto d = small_dataset(50);
  data::LoaderOptions o;
  o.batch_size = 8;
  o.drop_last = true;
  data::BatchLoader loader(d, torch::arange(20, 45, torch::kInt64), o);
  EXPECT_EQ(loader.num_batches(), 3);
  EXPECT_EQ(loader.num_examples(), 24);
  EXPECT_EQ(loader.batch(0).indices[0].item<int64_t>(), 20);
}

TEST(Loader, RanksTogetherSeeTheSingleProcessBatches) {
  const auto d = small_dataset(37);
  data::LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  data::BatchLoader whole(d, torch::Tensor(), o);
  whole.set_epoch(3);
  std::vector<data::BatchLoader> ranks;
  for (int64_t rank : {0, 1}) {
    o.rank = rank;
    o.world_size = 2;
    ranks.emplace_back(d, torch::Tensor(), o);
    ranks.back().set_epoch(3);
  }
  EXPECT_EQ(ranks[0].num_examples() + ranks[1].num_examples(), 37) << "every example once, no padding";
  ASSERT_EQ(ranks[0].num_batches(), whole.num_batches());
  ASSERT_EQ(ranks[1].num_batches(), whole.num_batches());
  for (int64_t i = 0; i < whole.num_batches(); ++i) {
    const data::Batch single = whole.batch(i);
    const data::Batch a = ranks[0].batch(i), b = ranks[1].batch(i);
    const torch::Tensor together = torch::cat({a.indices, b.indices});
    EXPECT_TRUE(torch::equal(std::get<0>(together.sort()), std::get<0>(single.indices.sort()))) << "batch " << i;
    EXPECT_EQ(a.global_examples, single.indices.numel());
    EXPECT_EQ(b.global_examples, single.indices.numel());
  }
  EXPECT_EQ(ranks[0].batch(4).indices.numel(), 3);  // tail of 5: 3 on rank 0, 2 on rank 1
  EXPECT_EQ(ranks[1].batch(4).indices.numel(), 2);
}

TEST(Loader, ARanksShareOfTheLastBatchMayBeEmpty) {
  const auto d = small_dataset(9);
  data::LoaderOptions o;
  o.batch_size = 8;
  o.rank = 1;
  o.world_size = 2;
  data::BatchLoader loader(d, torch::Tensor(), o);
  ASSERT_EQ(loader.num_batches(), 2);
  EXPECT_EQ(loader.batch(1).indices.numel(), 0);
  EXPECT_EQ(loader.batch(1).global_examples, 1);
  EXPECT_EQ(loader.batch(1).inputs.size(0), 0);
}

TEST(Loader, NormalisationIsNumericallyRight) {
  data::Dataset d{"n", torch::tensor({0, 51, 255, 102}, torch::kUInt8).view({1, 2, 2}), torch::zeros({1}, torch::kInt64),
                  {"a"}};
  data::LoaderOptions o;
  o.batch_size = 1;
  o.normalization = {{0.2}, {0.5}};
  const auto b = data::BatchLoader(d, torch::Tensor(), o).batch(0);
  const torch::Tensor expected = torch::tensor({(0.0 - 0.2) / 0.5, (0.2 - 0.2) / 0.5, (1.0 - 0.2) / 0.5, (0.4 - 0.2) / 0.5});
  EXPECT_TRUE(torch::allclose(b.inputs.flatten(), expected, 1e-6, 1e-6)) << b.inputs;
}

TEST(Loader, ComputedStatisticsMatchDirectComputation) {
  const auto d = small_dataset(300);
  const torch::Tensor idx = torch::arange(0, 300, 3, torch::kInt64);
  const auto n = data::compute_normalization(d, idx);
  const torch::Tensor pixels = d.images.index_select(0, idx).to(torch::kFloat64) / 255.0;
  EXPECT_NEAR(n.mean[0], pixels.mean().item<double>(), 1e-9);
  EXPECT_NEAR(n.std[0], pixels.std(/*unbiased=*/false).item<double>(), 1e-6);
}

TEST(Loader, TransformsAreSeededPerBatchAndKeepShape) {
  const auto d = small_dataset(16);
  data::LoaderOptions o;
  o.batch_size = 16;
  o.seed = 4;
  o.transforms = {data::random_crop(2), data::horizontal_flip()};
  data::BatchLoader a(d, torch::Tensor(), o), b(d, torch::Tensor(), o);
  a.set_epoch(1);
  b.set_epoch(1);
  const auto x = a.batch(0).inputs;
  EXPECT_TRUE(torch::equal(x, b.batch(0).inputs));
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{16, 1, 28, 28}));
  o.transforms.clear();
  EXPECT_FALSE(torch::equal(x, data::BatchLoader(d, torch::Tensor(), o).batch(0).inputs));
}

TEST(RealData, MnistAndFashionLoadWithTheRightShapes) {
  for (const std::string name : {"mnist", "fashion-mnist"}) {
    const auto root = deepl::testing::real_data_root(name);
    if (root.empty()) {
      std::cout << "[ SKIPPED ] " << name << " not fetched (run data/fetch)\n";
      continue;
    }
    const auto train = data::load_dataset(name, data::Split::kTrain, root);
    const auto test = data::load_dataset(name, data::Split::kTest, root);
    EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 28, 28}));
    EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 28, 28}));
    // Pixel sums: a checksum of the decoded contents, independent of the on-disk encoding.
    const int64_t sum = train.images.sum().item<int64_t>();
    EXPECT_EQ(sum, name == "mnist" ? 1567298545 : 3431114169) << name;
    EXPECT_EQ(torch::bincount(test.labels, {}, 10).sum().item<int64_t>(), 10000);
    EXPECT_GT(torch::bincount(test.labels, {}, 10).min().item<int64_t>(), 800) << "every class is present";
  }
}

// torchvision's RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0): about half the
// images get one zeroed rectangle whose area and aspect ratio (h / w) lie in those ranges, up to
// the rounding of h and w to whole pixels.
TEST(Loader, RandomErasingFollowsTorchvisionsDefinition) {
  const int64_t n = 4000;
  const torch::Tensor x = torch::full({n, 1, 28, 28}, 255.0f);
  torch::Generator gen = at::detail::createCPUGenerator(5);
  const torch::Tensor out = data::random_erasing(0.5)(x, gen);
  ASSERT_EQ(out.sizes(), x.sizes());
  const torch::Tensor zero = out.select(1, 0) == 0;
  const torch::Tensor count = zero.sum({1, 2}), h = zero.any(2).sum(1), w = zero.any(1).sum(1);
  EXPECT_TRUE(torch::equal(count, h * w)) << "each erased area is one rectangle";
  const torch::Tensor erased = count > 0;
  EXPECT_NEAR(erased.to(torch::kFloat64).mean().item<double>(), 0.5, 0.03);
  const torch::Tensor area = count.index({erased}).to(torch::kFloat64) / 784.0;
  EXPECT_GE(area.min().item<double>(), 0.02 * 0.6);  // rounding 3.96 x 3.96 down to 3 x 4 pixels at worst
  EXPECT_LE(area.max().item<double>(), 0.33 * 1.35);
  const torch::Tensor aspect = h.index({erased}).to(torch::kFloat64) / w.index({erased}).to(torch::kFloat64);
  EXPECT_GE(aspect.min().item<double>(), 0.3 * 0.6);
  EXPECT_LE(aspect.max().item<double>(), 3.3 / 0.6);
  EXPECT_GT(area.std().item<double>(), 0.05) << "areas spread over the range";

  torch::Generator again = at::detail::createCPUGenerator(5);
  EXPECT_TRUE(torch::equal(data::random_erasing(0.5)(x, again), out)) << "seeded";
  torch::Generator other = at::detail::createCPUGenerator(5);
  EXPECT_TRUE(torch::equal(data::random_erasing(0.0)(x, other), x)) << "p = 0 erases nothing";
  torch::Generator all = at::detail::createCPUGenerator(5);
  const torch::Tensor always = data::random_erasing(1.0)(x, all).select(1, 0) == 0;
  EXPECT_GT(always.any(2).any(1).to(torch::kFloat64).mean().item<double>(), 0.99);
}

TEST(Loader, ResizeImagesAveragesWhenShrinkingAndInterpolatesWhenGrowing) {
  const torch::Tensor x = torch::arange(16, torch::kFloat32).view({1, 1, 4, 4});
  const torch::Tensor half = data::resize_images(x, 2, 2);
  EXPECT_TRUE(torch::allclose(half.flatten(), torch::tensor({2.5f, 4.5f, 10.5f, 12.5f}))) << "2x2 block means: " << half;
  EXPECT_TRUE(torch::equal(data::resize_images(x, 4, 4), x));
  const torch::Tensor grown = data::resize_images(x, 8, 8);
  EXPECT_EQ(grown.sizes(), (std::vector<int64_t>{1, 1, 8, 8}));
  EXPECT_FLOAT_EQ(grown[0][0][0][0].item<float>(), 0.0f) << "bilinear, corners not aligned: the corner pixel stays";
  EXPECT_FLOAT_EQ(grown[0][0][0][1].item<float>(), 0.25f);
}

TEST(Loader, ProgressiveResizeSplitsTheEpochsIntoEqualStages) {
  data::ProgressiveResize p{{16, 20, 24, 28}, 10};
  std::vector<int64_t> sides;
  for (int64_t e = 1; e <= 10; ++e) sides.push_back(p.size_at(e));
  EXPECT_EQ(sides, (std::vector<int64_t>{16, 16, 16, 20, 20, 24, 24, 24, 28, 28}));
  const data::ProgressiveResize even{{16, 20, 24, 28}, 8};
  EXPECT_EQ(even.size_at(2), 16) << "two epochs a stage";
  EXPECT_EQ(even.size_at(3), 20);
  EXPECT_EQ(p.size_at(12), 28) << "epochs past the end stay in the last stage";
  EXPECT_EQ(data::ProgressiveResize{}.size_at(3), 0) << "off";
}

// The resized batch is the same batch (same crops and flips) shrunk by area averaging; normalising
// commutes with averaging, so the two orders agree.
TEST(Loader, ProgressiveResizeShrinksTheTransformedBatchOfItsStage) {
  const auto d = small_dataset(32);
  data::LoaderOptions o;
  o.batch_size = 16;
  o.shuffle = true;
  o.seed = 7;
  o.transforms = {data::random_crop(2), data::horizontal_flip()};
  const data::BatchLoader full(d, torch::Tensor(), o);
  o.progressive = {{14, 28}, 4};
  data::BatchLoader resized(d, torch::Tensor(), o);
  data::BatchLoader reference = full;
  for (const int64_t epoch : {2, 3}) {
    resized.set_epoch(epoch);
    reference.set_epoch(epoch);
    const torch::Tensor got = resized.batch(1).inputs, want = reference.batch(1).inputs;
    if (epoch == 2) {
      ASSERT_EQ(got.sizes(), (std::vector<int64_t>{16, 1, 14, 14}));
      EXPECT_TRUE(torch::allclose(got, torch::avg_pool2d(want, 2), 1e-5, 1e-5));
    } else {
      EXPECT_TRUE(torch::equal(got, want)) << "the last stage trains at the images' own size";
    }
  }
}
