#include <gtest/gtest.h>

#include "../test_util.h"
#include "deepl/config/config.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::error_message;
using nlohmann::json;

namespace {
json minimal() { return {{"name", "t"}, {"model", {{"type", "mlp"}}}}; }

std::string config_error(json raw, std::vector<std::string> overrides = {}) {
  return error_message([&] { config::resolve_experiment(raw, overrides); });
}
}  // namespace

TEST(Config, DefaultsAreFilledIn) {
  const auto exp = config::resolve_experiment(minimal());
  EXPECT_EQ(exp.json["train"]["epochs"], 10);
  EXPECT_EQ(exp.json["optimizer"]["type"], "adam");
  EXPECT_EQ(exp.json["data"]["batch_size"], 64);
  EXPECT_EQ(exp.json["model"]["hidden"], json::array({128}));
  EXPECT_EQ(exp.json["output"]["dir"], "runs");
  EXPECT_EQ(exp.threads, 0);
}

TEST(Config, PrecisionAndChannelsLastDefaultToAuto) {
  const auto exp = config::resolve_experiment(minimal());
  EXPECT_EQ(exp.json["train"]["precision"], "auto");
  EXPECT_EQ(exp.json["train"]["channels_last"], "auto");
  for (const json& v : {json(true), json(false), json("auto")}) {
    json raw = minimal();
    raw["train"] = {{"channels_last", v}};
    EXPECT_EQ(config::resolve_experiment(raw).json["train"]["channels_last"], v);
  }
  json raw = minimal();
  raw["train"] = {{"channels_last", "yes"}};
  EXPECT_EQ(config_error(raw), "/train/channels_last: \"yes\" is not one of auto");
  raw["train"] = {{"channels_last", 1}};
  EXPECT_EQ(config_error(raw), "/train/channels_last: expected boolean or string, got integer 1");
  raw["train"] = {{"precision", "fp16"}};
  EXPECT_EQ(config_error(raw), "/train/precision: \"fp16\" is not one of auto, fp32, bf16; did you mean \"fp32\"?");
  EXPECT_EQ(config_error(minimal(), {"train.channels_last=maybe"}), "/train/channels_last: \"maybe\" is not one of auto");
}

TEST(Config, UnknownKeyGetsDidYouMean) {
  json raw = minimal();
  raw["optimizer"] = {{"lrr", 0.1}};
  EXPECT_EQ(config_error(raw), "/optimizer/lrr: unknown key; did you mean \"lr\"?");
  raw = minimal();
  raw["model"]["hiden"] = json::array({10});
  EXPECT_EQ(config_error(raw), "/model/hiden: unknown key; did you mean \"hidden\"?");
}

TEST(Config, WrongTypesAndRangesNamedByPointer) {
  json raw = minimal();
  raw["train"] = {{"epochs", "ten"}};
  EXPECT_EQ(config_error(raw), "/train/epochs: expected integer, got string \"ten\"");
  raw = minimal();
  raw["data"] = {{"random_crop", 8.9e31}};  // beyond int64: found by fuzz_config as undefined behaviour
  EXPECT_EQ(config_error(raw).rfind("/data/random_crop: expected integer", 0), 0u) << config_error(raw);
  raw = minimal();
  raw["data"] = {{"val_fraction", 1.5}};
  EXPECT_EQ(config_error(raw), "/data/val_fraction: 1.5 is out of range [0, 0.9]");
  raw = minimal();
  raw["optimizer"] = {{"type", "adma"}};
  EXPECT_NE(config_error(raw).find("did you mean \"adam\""), std::string::npos);
  raw = minimal();
  raw["model"] = json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": -3}]}]})");
  EXPECT_EQ(config_error(raw), "/model/blocks/0/convs/0/out_channels: -3 is out of range [1, 65536]");
}

TEST(Config, RequiredKeysAndUnknownModel) {
  EXPECT_EQ(config_error({{"model", {{"type", "mlp"}}}}), "/name: required key is missing");
  EXPECT_NE(config_error({{"name", "x"}, {"model", {{"type", "mpl"}}}}).find("did you mean \"mlp\""), std::string::npos);
  EXPECT_EQ(config::resolve_experiment({{"name", "x"}}).json["model"], json({{"type", "auto"}}));  // picked for the data
  EXPECT_EQ(config_error({{"name", "x"}, {"model", {{"type", "auto"}, {"hidden", {8}}}}}), "/model/hidden: unknown key");
}

TEST(Config, OverridesApplyBeforeValidation) {
  const auto exp = config::resolve_experiment(minimal(), {"optimizer.lr=0.01", "train.epochs=3", "model.hidden=[32,16]",
                                                          "data.dataset=fashion-mnist"});
  EXPECT_DOUBLE_EQ(exp.json["optimizer"]["lr"].get<double>(), 0.01);
  EXPECT_EQ(exp.json["train"]["epochs"], 3);
  EXPECT_EQ(exp.json["model"]["hidden"], json::array({32, 16}));
  EXPECT_EQ(exp.json["data"]["dataset"], "fashion-mnist");
  EXPECT_EQ(config_error(minimal(), {"train.epochs"}), "--set train.epochs: expected key.path=value");
  EXPECT_EQ(config_error(minimal(), {"train.epochz=3"}), "/train/epochz: unknown key; did you mean \"epochs\"?");
}

TEST(Config, ConsistencyChecks) {
  json raw = minimal();
  raw["data"] = {{"normalize", "fixed"}};
  EXPECT_EQ(config_error(raw), "/data/normalize: \"fixed\" needs /data/mean and /data/std");
  raw = minimal();
  raw["data"] = {{"val_fraction", 0}};
  EXPECT_NE(config_error(raw).find("needs a validation split"), std::string::npos);
  raw = minimal();
  raw["eval"] = {{"tta", {"hflip", "vflip"}}};
  EXPECT_EQ(config_error(raw), "/eval/tta: unknown augmentation \"vflip\" (known: \"hflip\", \"shift\")");
  raw = minimal();
  raw["scheduler"] = {{"type", "plateau"}, {"interval", "step"}};
  EXPECT_NE(config_error(raw).find("/scheduler/interval: plateau"), std::string::npos);
  raw = minimal();
  raw["data"] = {{"random_erasing", 0.5}, {"random_erasing_scale", {0.4, 0.1}}};
  EXPECT_EQ(config_error(raw), "/data/random_erasing_scale: expected [low, high] with low <= high");
  raw = minimal();
  raw["model"] = {{"type", "logistic"}};
  raw["train"] = {{"label_smoothing", 0.1}};
  EXPECT_EQ(config_error(raw),
            "/train/label_smoothing: applies to classification; model \"logistic\" is not a classifier");
}

TEST(Config, FileErrorsNameTheFile) {
  deepl::testing::TempDir dir;
  write_file_atomic(dir / "x.json", R"({"name": "x", "model": {"type": "mlp"}, "seed": -1})");
  const std::string msg = error_message([&] { config::load_experiment(dir / "x.json"); });
  EXPECT_EQ(msg, (dir / "x.json").string() + ": /seed: -1 is out of range [0, 9000000000000000]");
}

TEST(Config, ShippedExperimentsAreValid) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(DEEPL_SOURCE_DIR) / "experiments")) {
    if (entry.path().extension() != ".json") continue;
    EXPECT_NO_THROW(config::load_experiment(entry.path())) << entry.path();
    ++count;
  }
  EXPECT_GE(count, 1);
}

TEST(Config, DocsTableMatchesTheSchema) {
  const std::string docs = read_file(std::filesystem::path(DEEPL_SOURCE_DIR) / "docs" / "config.md");
  EXPECT_NE(docs.find(config::reference_markdown()), std::string::npos)
      << "docs/config.md's config table is stale: regenerate it with `deepl config docs`";
}
