#include "internal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

namespace deepl::basics::detail {

namespace fs = std::filesystem;
using nlohmann::json;
using schema::Field;
using schema::FieldType;
using schema::make_field;
using schema::choice;
using schema::object;
using schema::ranged;

namespace {

std::vector<Field> common_fields(const std::string& part) {
  const Field optional_description = schema::optional(make_field("description", FieldType::kString, nullptr, "free text"));
  return {make_field("name", FieldType::kString, nullptr, "run name"),
          choice("part", part, part_names(), "which part of notebook 1"),
          optional_description,
          ranged(make_field("seed", FieldType::kInt, 0, "seed of the generated data and initialisation"), 0, 9e15),
          ranged(make_field("threads", FieldType::kInt, 0, "intra-op threads (0: all cores)"), 0, 1024),
          object("output", {make_field("dir", FieldType::kString, "runs/basics", "where run folders go")})};
}

Field train_object(int64_t epochs, double lr, bool with_optimizer) {
  std::vector<Field> f = {ranged(make_field("epochs", FieldType::kInt, epochs, "full-batch gradient steps"), 1, 1e7),
                          ranged(make_field("lr", FieldType::kNumber, lr, "learning rate"), 1e-9, 100)};
  if (with_optimizer) f.push_back(choice("optimizer", "sgd", {"sgd", "adam"}, "optimizer"));
  return object("train", f);
}

}  // namespace

std::vector<Field> part_fields(const std::string& part) {
  std::vector<Field> fields = common_fields(part);
  Field x_range = make_field("x_range", FieldType::kNumberList, json::array({-3.0, 3.0}), "range of the inputs");
  Field n = ranged(make_field("n", FieldType::kInt, 200, "number of points"), 4, 1e7);
  Field noise = ranged(make_field("noise", FieldType::kNumber, 0.3, "standard deviation of the noise"), 0, 1e6);
  if (part == "linear") {
    fields.push_back(object("data", {n, noise, x_range,
                                     make_field("coefficients", FieldType::kNumberList, json::array({2.5}), "true slopes, one per input"),
                                     make_field("intercept", FieldType::kNumber, 1.0, "true intercept")}));
    fields.push_back(train_object(500, 0.1, true));
  } else if (part == "nonlinear") {
    fields.push_back(object("data", {n, noise, x_range,
                                     choice("function", "sin", {"sin", "square", "cubic", "abs"}, "the true curve")}));
    fields.push_back(object("model", {make_field("hidden", FieldType::kIntList, json::array({64, 64}), "hidden layer sizes"),
                                      choice("activation", "relu", {"relu", "tanh"}, "activation")}));
    fields.push_back(train_object(2000, 0.01, false));
  } else if (part == "logistic") {
    fields.push_back(object("data", {ranged(make_field("n_per_class", FieldType::kInt, 200, "points per class"), 2, 1e7),
                                     make_field("means", FieldType::kAny, json::array({json::array({-1.0, -1.0}), json::array({1.5, 1.0})}),
                                                "the two classes' 2-D centres"),
                                     ranged(make_field("std", FieldType::kNumber, 0.8, "spread of each class"), 1e-6, 1e6)}));
    fields.push_back(train_object(500, 0.1, false));
  } else if (part == "autodiff") {
    fields.push_back(make_field("expressions", FieldType::kAny, json::array({"polynomial", "composition", "network"}),
                                "expressions to differentiate"));
    fields.push_back(make_field("points", FieldType::kAny, json::array({json::array({0.7, -1.3}), json::array({-0.4, 2.1})}),
                                "2-D points to differentiate at"));
    fields.push_back(ranged(make_field("eps", FieldType::kNumber, 1e-6, "finite-difference step"), 1e-12, 1));
    fields.push_back(ranged(make_field("tolerance", FieldType::kNumber, 1e-6, "largest accepted relative error"), 0, 1));
  } else if (part == "optimize") {
    Field opt = make_field("optimizers", FieldType::kObjectList, nullptr, "optimizers to compare");
    opt.children = {choice("type", nullptr, {"sgd", "momentum", "adam", "lbfgs"}, "optimizer"),
                    ranged(make_field("lr", FieldType::kNumber, nullptr, "learning rate"), 1e-9, 100),
                    ranged(make_field("momentum", FieldType::kNumber, 0.9, "momentum (type momentum)"), 0, 0.9999),
                    ranged(make_field("steps", FieldType::kInt, 0, "steps for this optimizer (0: the top-level steps)"), 0, 1e7)};
    fields.push_back(choice("function", nullptr, {"rosenbrock", "himmelblau", "beale", "bowl"}, "function to minimise"));
    fields.push_back(make_field("params", FieldType::kAny, json::object(),
                                "function parameters: rosenbrock {a, b}; bowl {center, scale}"));
    fields.push_back(make_field("start", FieldType::kNumberList, nullptr, "start point [x, y]"));
    fields.push_back(ranged(make_field("steps", FieldType::kInt, 2000, "optimizer steps"), 1, 1e7));
    fields.push_back(ranged(make_field("tolerance", FieldType::kNumber, 1e-3, "distance to a minimum that counts as reached"), 0, 1e6));
    fields.push_back(make_field("window", FieldType::kNumberList, json::array({-2.0, 2.0, -1.0, 3.0}), "plot window [x0, x1, y0, y1]"));
    fields.push_back(opt);
  }
  return fields;
}

}  // namespace deepl::basics::detail
