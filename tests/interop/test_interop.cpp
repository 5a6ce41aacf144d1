// PyTorch interop: files written by Python's torch.save / torchvision, read by deepl without
// Python, and deepl's exports read by Python. The fixtures come from make_fixtures.py (Debian's
// python3-torch and python3-torchvision; CI installs them).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <cstdio>
#include <sstream>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/config/config.h"
#include "deepl/core/json_util.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/registry.h"
#include "deepl/models/vgg.h"
#include "deepl/run/experiment.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/optim.h"
#include "../plan_util.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;

namespace {

const std::string kPython = "/usr/bin/python3";
const std::filesystem::path kSource = DEEPL_SOURCE_DIR;

std::string run_command(const std::string& cmd, int* code) {  // stdout and stderr
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The fixtures are written once per CTest run by the interop.fixtures test (make_fixtures.py),
// into the folder named by DEEPL_INTEROP_FIXTURES.
class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("DEEPL_INTEROP_FIXTURES");
    ASSERT_TRUE(dir && std::filesystem::exists(std::filesystem::path(dir) / "vgg16_zip.pth"))
        << "no interop fixtures: run through CTest (interop.fixtures writes them; it needs python3-torchvision, "
           "see scripts/setup --with-python)";
  }
  static std::filesystem::path fixture(const std::string& name) { return std::filesystem::path(std::getenv("DEEPL_INTEROP_FIXTURES")) / name; }

  static void expect_logits_match(models::VggImpl& net, const std::string& logits_file) {
    const auto expected = io::read_state_dict(fixture(logits_file));
    net.eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor y = net.forward(expected.at("input"));
    const double diff = (y - expected.at("logits")).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << logits_file;
  }

};

}  // namespace

TEST_F(Interop, Vgg16FromEveryFormatGivesPythonsLogits) {
  for (const char* file : {"vgg16_zip.pth", "vgg16_legacy.pth", "vgg16_dict.pth"}) {
    const auto state = io::read_state_dict(fixture(file));
    EXPECT_EQ(state.size(), 32u) << file;
    EXPECT_EQ(state.at("classifier.6.weight").sizes(), (std::vector<int64_t>{1000, 4096})) << file;
    models::VggImpl net(models::VggOptions(16));
    train::load_model_state(net, state, file);
    expect_logits_match(net, "vgg16_logits.pt");
  }
}

TEST_F(Interop, Vgg16BnNestedUnderStateDictInEvalMode) {
  const auto state = io::read_state_dict(fixture("vgg16_bn_nested.pth"));
  EXPECT_TRUE(state.count("features.1.running_mean"));
  models::VggImpl net(models::VggOptions(16).batch_norm(true));
  train::load_model_state(net, state, "vgg16_bn_nested.pth");
  expect_logits_match(net, "vgg16_bn_logits.pt");
}

TEST_F(Interop, ViewsSharedStoragesAndDtypes) {
  for (const char* file : {"views_zip.pth", "views_legacy.pth"}) {
    const auto s = io::read_state_dict(fixture(file));
    const torch::Tensor base = torch::arange(24, torch::kFloat64);
    EXPECT_TRUE(torch::equal(s.at("c"), base)) << file;
    EXPECT_TRUE(torch::equal(s.at("a"), base.slice(0, 2, 8).view({2, 3}))) << file;
    EXPECT_TRUE(torch::equal(s.at("b"), base.view({4, 6}).t())) << file;
    EXPECT_EQ(s.at("h").scalar_type(), torch::kHalf);
    EXPECT_TRUE(torch::equal(s.at("h").to(torch::kFloat), torch::tensor({1.5f, -2.0f})));
    EXPECT_TRUE(torch::equal(s.at("i"), torch::tensor({7, -9}, torch::kInt64)));
    EXPECT_TRUE(torch::equal(s.at("u"), torch::tensor({3, 250}, torch::kUInt8)));
    EXPECT_TRUE(torch::equal(s.at("flag"), torch::tensor({true, false})));
  }
}

TEST_F(Interop, MaliciousPicklesAreRefusedNotRun) {
  std::filesystem::remove("/tmp/deepl-pwned");
  for (const char* file : {"evil.pth", "evil_zip.pth"}) {
    const std::string msg = error_message([&] { io::read_state_dict(fixture(file)); });
    EXPECT_NE(msg.find("refusing to load global posix.system"), std::string::npos) << msg;
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/deepl-pwned"));
}

TEST_F(Interop, TruncatedAndForeignFilesAreClearErrors) {
  EXPECT_NE(error_message([] { io::read_state_dict(fixture("truncated_views_zip.pth")); }).find("truncated"), std::string::npos);
  EXPECT_NE(error_message([] { io::read_state_dict(fixture("truncated_views_legacy.pth")); }).find("truncated"),
            std::string::npos);
  TempDir dir;
  write_file_atomic(dir / "text.pth", "not a checkpoint at all");
  EXPECT_NE(error_message([&] { io::read_state_dict(dir / "text.pth"); }).find("not a PyTorch file"), std::string::npos);
}

namespace {

// deepl's model for a `model` config section, with perturbed weights and batch-norm running
// statistics from a few training-mode batches, in eval mode.
std::shared_ptr<models::NetworkImpl> resnet_with_statistics(const nlohmann::json& model, const models::InputSpec& in) {
  const auto exp = config::resolve_experiment({{"name", "r"}, {"model", model}});
  auto net = models::build_model(exp.json["model"], in);
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.add_(torch::randn_like(p) * 0.1);
  net->train();
  for (int i = 0; i < 3; ++i) net->forward(torch::randn({4, in.channels, in.height, in.width}) + i);
  net->eval();
  return net;
}

// The logits of `x` from Python: `net`'s state dict loaded with strict=True into build_resnet
// (bench/reference.py), or into torchvision's resnet18 when kind is "torchvision".
torch::Tensor python_logits(models::NetworkImpl& net, const nlohmann::json& model, const torch::Tensor& x,
                            const std::string& kind) {
  TempDir dir;
  io::write_state_dict(dir / "weights.pth", train::model_state_dict(net));
  io::write_state_dict(dir / "inputs.pth", {{"x", x}});
  write_json_file(dir / "model.json", model);
  int code = 0;
  const std::string out =
      run_command(fmt::format("{} {} {} {} {} {} {}", kPython, (kSource / "tests/interop/resnet_logits.py").string(),
                              (dir / "weights.pth").string(), (dir / "model.json").string(),
                              (dir / "inputs.pth").string(), (dir / "logits.pth").string(), kind),
                  &code);
  EXPECT_EQ(code, 0) << out;
  if (code != 0) return {};
  return io::read_state_dict(dir / "logits.pth").at("logits");
}

void expect_same_logits(models::NetworkImpl& net, const nlohmann::json& model, const torch::Tensor& x,
                        const std::string& kind) {
  const torch::Tensor theirs = python_logits(net, model, x, kind);
  ASSERT_TRUE(theirs.defined());
  torch::NoGradGuard no_grad;
  const torch::Tensor ours = net.forward(x);
  ASSERT_EQ(ours.sizes(), theirs.sizes());
  EXPECT_LE((ours - theirs).abs().max().item<double>(), 1e-4 * (1 + ours.abs().max().item<double>())) << model.dump();
}

}  // namespace

TEST_F(Interop, ResNetLoadsStrictlyInPytorchWithTheSameLogits) {
  torch::manual_seed(7);
  const models::InputSpec fashion{1, 28, 28, 10};
  for (bool preact : {false, true}) {
    const nlohmann::json model = {{"type", "resnet"}, {"stem_channels", 8}, {"blocks", {1, 2}},  {"widths", {8, 16}},
                                  {"strides", {1, 2}}, {"preact", preact},   {"dropout", 0.3}};
    auto net = resnet_with_statistics(model, fashion);
    expect_same_logits(*net, model, torch::randn({5, 1, 28, 28}), "deepl");
  }
}

TEST_F(Interop, ResNet18LayoutIsTorchvisionsResNet18) {
  torch::manual_seed(8);
  const nlohmann::json model = {{"type", "resnet"},          {"stem_channels", 64},        {"stem_kernel_size", 7},
                                {"stem_stride", 2},          {"stem_pool", true},          {"blocks", {2, 2, 2, 2}},
                                {"widths", {64, 128, 256, 512}}, {"strides", {1, 2, 2, 2}}};
  auto net = resnet_with_statistics(model, models::InputSpec{3, 64, 64, 1000});
  expect_same_logits(*net, model, torch::randn({2, 3, 64, 64}), "torchvision");
}

namespace {

// The learning rate (and a cycled momentum) before each of `steps` optimizer steps, from deepl's
// scheduler for `section` (an epoch ends every `steps_per_epoch` steps) and from PyTorch's
// (schedule_lrs.py ARGS).
void expect_pytorchs_learning_rates(const nlohmann::json& section, int64_t epochs, int64_t steps_per_epoch,
                                    const std::string& args) {
  train::LrScheduler ours(deepl::testing::scheduler_options(section), 0.1, epochs, steps_per_epoch);
  int code = 0;
  std::istringstream theirs(
      run_command(fmt::format("{} {} {}", kPython, (kSource / "tests/interop/schedule_lrs.py").string(), args), &code));
  ASSERT_EQ(code, 0) << theirs.str();
  std::string line;
  for (int64_t step = 0; step < epochs * steps_per_epoch; ++step) {
    ASSERT_TRUE(std::getline(theirs, line)) << "step " << step;
    std::istringstream values(line);
    double lr = 0, momentum = 0;
    ASSERT_TRUE(values >> lr) << line;
    EXPECT_NEAR(ours.lr(), lr, 1e-9) << section.dump() << " step " << step;
    if (values >> momentum) {
      ASSERT_TRUE(ours.momentum().has_value()) << section.dump();
      EXPECT_NEAR(*ours.momentum(), momentum, 1e-9) << section.dump() << " step " << step;
    } else {
      EXPECT_FALSE(ours.momentum().has_value()) << section.dump();
    }
    ours.step_batch();
    if ((step + 1) % steps_per_epoch == 0) ours.step({});
  }
}

}  // namespace

TEST_F(Interop, PerStepSchedulesArePytorchs) {
  expect_pytorchs_learning_rates({{"type", "onecycle"}}, 4, 10, "onecycle 0.1 40 0.3 25 10000 0.85 0.95");
  const nlohmann::json short_cycle = {{"type", "onecycle"},      {"pct_start", 0.25},    {"div_factor", 10},
                                      {"final_div_factor", 100}, {"base_momentum", 0.8}, {"max_momentum", 0.9}};
  expect_pytorchs_learning_rates(short_cycle, 3, 7, "onecycle 0.1 21 0.25 10 100 0.8 0.9");
  expect_pytorchs_learning_rates({{"type", "onecycle"}, {"cycle_momentum", false}}, 4, 10,
                                 "onecycle 0.1 40 0.3 25 10000");
  const nlohmann::json warm_cosine = {
      {"type", "cosine"}, {"interval", "step"}, {"warmup_epochs", 1.5}, {"warmup_start_factor", 0.2}, {"min_lr", 0.001}};
  expect_pytorchs_learning_rates(warm_cosine, 5, 6, "warmup_cosine 0.1 30 9 0.2 0.001");
}

TEST_F(Interop, WrongArchitectureListsTheMismatches) {
  const auto state = io::read_state_dict(fixture("vgg16_zip.pth"));
  models::VggImpl vgg11(models::VggOptions(11));
  const std::string msg = error_message([&] { train::load_model_state(vgg11, state, "vgg16_zip.pth"); });
  EXPECT_NE(msg.find("missing features.3.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected features.2.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected features.28.weight"), std::string::npos) << msg;
}

TEST_F(Interop, ExportedMlpLoadsInPythonAndPredictsTheSameClasses) {
  TempDir dir;
  deepl::testing::write_synthetic_dataset(dir.path(), "mnist", 400, 100);
  const nlohmann::json cfg = {{"name", "export"},
                              {"threads", 1},
                              {"data", {{"dataset", "mnist"}, {"root", dir.path().string()}, {"batch_size", 32}}},
                              {"model", {{"type", "mlp"}, {"hidden", {24}}, {"dropout", 0.1}}},
                              {"train", {{"epochs", 2}}},
                              {"output", {{"dir", (dir / "runs").string()}}}};
  write_json_file(dir / "export.json", cfg);
  int code = 0;
  std::string out = run_command(std::string(DEEPL_BIN) + " train --quiet --config " + (dir / "export.json").string(), &code);
  ASSERT_EQ(code, 0) << out;
  const auto ckpt = dir / "runs/export/checkpoints/best.pt";
  out = run_command(std::string(DEEPL_BIN) + " export --checkpoint " + ckpt.string() + " --out " + (dir / "model.pth").string(), &code);
  ASSERT_EQ(code, 0) << out;
  const auto meta = train::read_checkpoint(ckpt).meta;
  const std::string images = (dir / "mnist/t10k-images-idx3-ubyte").string();
  const std::string python = run_command(
      fmt::format("{} {} {} {} {} {} {}", kPython, (kSource / "tests/interop/check_export.py").string(),
                  (dir / "model.pth").string(), (dir / "export.json").string(), meta["data"]["mean"][0].get<double>(),
                  meta["data"]["std"][0].get<double>(), images),
      &code);
  ASSERT_EQ(code, 0) << python;
  const std::string predicted = run_command(std::string(DEEPL_BIN) + " predict --top-k 1 --checkpoint " + ckpt.string() +
                                                " --input " + images, &code);
  ASSERT_EQ(code, 0) << predicted;
  std::istringstream py(python), cpp(predicted);
  std::string a, b;
  int n = 0;
  while (std::getline(py, a) && std::getline(cpp, b)) {
    EXPECT_EQ(std::stoi(a), nlohmann::json::parse(b)["top"][0]["class"].get<int>()) << "image " << n;
    ++n;
  }
  EXPECT_EQ(n, 100);
}

TEST_F(Interop, FineTuningLoadsTheBackboneFreezesItAndTrainsANewHead) {
  TempDir dir;
  deepl::testing::write_synthetic_dataset(dir.path(), "fashion-mnist", 160, 40);
  nlohmann::json cfg = read_json_file(kSource / "experiments/fashion_vgg16.json");
  cfg["data"]["root"] = dir.path().string();
  cfg["data"]["batch_size"] = 32;
  cfg["model"]["pretrained"] = fixture("vgg16_legacy.pth").string();
  cfg["model"]["freeze"] = -1;
  cfg["train"]["epochs"] = 1;
  cfg["threads"] = 2;
  cfg["output"]["dir"] = (dir / "runs").string();
  const auto exp = config::resolve_experiment(cfg);
  run::TrainOptions options;
  options.quiet = true;
  const auto result = run::train_experiment(exp, options);
  EXPECT_EQ(result.history.size(), 1u);
  const auto trained = train::read_checkpoint(result.run_dir / "checkpoints/last.pt").model;
  const auto original = io::read_state_dict(fixture("vgg16_legacy.pth"));
  EXPECT_TRUE(torch::equal(trained.at("features.0.weight"), original.at("features.0.weight")));
  EXPECT_TRUE(torch::equal(trained.at("features.28.bias"), original.at("features.28.bias")));
  EXPECT_EQ(trained.at("classifier.3.weight").sizes(), (std::vector<int64_t>{10, 256}));

  cfg["model"]["pretrained"] = (dir / "absent.pth").string();
  const std::string msg = error_message([&] { run::train_experiment(config::resolve_experiment(cfg), options); });
  EXPECT_NE(msg.find("absent.pth not found; supply torchvision's VGG16 ImageNet weights"), std::string::npos) << msg;
}

TEST_F(Interop, HeadOnCachedFeaturesEqualsTrainingThroughTheFrozenBackbone) {
  TempDir dir;
  deepl::testing::write_synthetic_dataset(dir.path(), "fashion-mnist", 96, 32);
  nlohmann::json cfg = read_json_file(kSource / "experiments/fashion_vgg16.json");
  cfg["data"]["root"] = dir.path().string();
  cfg["data"]["batch_size"] = 32;
  cfg["model"]["pretrained"] = fixture("vgg16_zip.pth").string();
  cfg["train"] = {{"epochs", 2}, {"precision", "fp32"}};
  cfg["threads"] = 2;
  cfg["output"]["dir"] = (dir / "runs").string();
  run::TrainOptions options;
  options.quiet = true;
  auto train = [&](bool cache, const std::string& name) {
    nlohmann::json c = cfg;
    c["name"] = name;
    c["model"]["cache_features"] = cache;
    return run::train_experiment(config::resolve_experiment(c), options);
  };
  const auto cached = train(true, "cached");
  const auto direct = train(false, "direct");
  EXPECT_EQ(cached.history.size(), 2u);
  const auto a = train::read_checkpoint(cached.run_dir / "checkpoints/last.pt").model;
  const auto b = train::read_checkpoint(direct.run_dir / "checkpoints/last.pt").model;
  for (const char* name : {"classifier.0.weight", "classifier.3.weight", "classifier.3.bias"}) {
    EXPECT_TRUE(torch::allclose(a.at(name), b.at(name), 1e-4, 1e-5)) << name;
  }
  EXPECT_TRUE(torch::equal(a.at("features.0.weight"), b.at("features.0.weight")));
  EXPECT_NEAR(cached.test.accuracy, direct.test.accuracy, 0.05);

  auto cache_files = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir / "cache")) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto before = cache_files();
  EXPECT_EQ(before.size(), 2u);  // train and test features
  cfg["train"]["epochs"] = 1;  // the runs below only look at the cache; each epoch writes a VGG16-sized checkpoint
  train(true, "again");
  EXPECT_EQ(cache_files(), before) << "same weights and transform: the cache is reused";
  cfg["model"]["input_size"] = 40;
  train(true, "resized");
  EXPECT_EQ(cache_files().size(), 4u) << "another input size: new features";
  cfg["model"]["pretrained"] = fixture("vgg16_legacy.pth").string();  // same weights, other file: same bytes?
  cfg["model"]["input_size"] = 32;
  const auto legacy_bytes = read_file(fixture("vgg16_legacy.pth"));
  const auto zip_bytes = read_file(fixture("vgg16_zip.pth"));
  train(true, "other_weights_file");
  EXPECT_EQ(cache_files().size(), legacy_bytes == zip_bytes ? 4u : 6u) << "another weights file: new features";
}
