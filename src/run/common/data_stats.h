#pragma once
// What a run knows about its data besides the pixels. Internal to the library.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "deepl/core/error.h"
#include "deepl/data/loader.h"
#include "deepl/models/registry.h"

namespace deepl::run {

// What a run knows about its data besides the pixels; stored in every checkpoint so evaluation
// and prediction rebuild the same inputs without the training set.
struct DataStats {
  std::string dataset;
  data::Normalization normalization;
  std::vector<int64_t> input_shape;  // [C, H, W]
  std::vector<std::string> class_names;
  std::vector<std::string> features;  // a table's feature columns (normalization: theirs); empty for pictures
  bool regression = false;            // a table's target learned as a number (class_names: its column)
  double target_mean = 0.0, target_std = 1.0;  // what a regression's targets were standardised with

  nlohmann::json to_json() const {
    nlohmann::json j = {{"dataset", dataset},        {"mean", normalization.mean}, {"std", normalization.std},
                        {"input_shape", input_shape}, {"class_names", class_names}, {"features", features},
                        {"task", regression ? "regression" : "classification"}};
    if (regression) j["target_mean"] = target_mean, j["target_std"] = target_std;
    return j;
  }
  static DataStats from_json(const nlohmann::json& j, const std::string& origin) {
    try {
      DataStats s;
      s.dataset = j.at("dataset");
      s.normalization.mean = j.at("mean").get<std::vector<double>>();
      s.normalization.std = j.at("std").get<std::vector<double>>();
      s.input_shape = j.at("input_shape").get<std::vector<int64_t>>();
      s.class_names = j.at("class_names").get<std::vector<std::string>>();
      s.features = j.value("features", std::vector<std::string>{});
      s.regression = j.value("task", "classification") == "regression";
      if (s.regression) s.target_mean = j.at("target_mean"), s.target_std = j.at("target_std");
      return s;
    } catch (const nlohmann::json::exception& e) {
      throw_data(origin + ": checkpoint metadata lacks the data statistics (" + e.what() + ")");
    }
  }
  models::InputSpec spec() const {
    return {input_shape.at(0), input_shape.at(1), input_shape.at(2), static_cast<int64_t>(class_names.size())};
  }
};

}  // namespace deepl::run
