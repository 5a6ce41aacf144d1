#include "deepl/core/schema.h"

#include <fmt/format.h>

#include <cmath>

#include "deepl/core/error.h"
#include "deepl/core/json_util.h"

namespace deepl::schema {

using nlohmann::json;

Field make_field(std::string key, FieldType type, json default_value, std::string doc) {
  Field f;
  f.key = std::move(key);
  f.type = type;
  f.default_value = std::move(default_value);
  f.doc = std::move(doc);
  return f;
}

Field choice(std::string key, json def, std::vector<std::string> choices, std::string doc) {
  Field f = make_field(std::move(key), FieldType::kString, std::move(def), std::move(doc));
  f.choices = std::move(choices);
  return f;
}

Field object(std::string key, std::vector<Field> children, std::string doc) {
  Field f = make_field(std::move(key), FieldType::kObject, nullptr, std::move(doc));
  f.children = std::move(children);
  return f;
}

Field ranged(Field f, double lo, double hi) {
  f.range(lo, hi);
  return f;
}

Field optional(Field f) {
  f.optional = true;
  return f;
}

std::string type_name(FieldType type) {
  switch (type) {
    case FieldType::kInt: return "integer";
    case FieldType::kNumber: return "number";
    case FieldType::kBool: return "boolean";
    case FieldType::kString: return "string";
    case FieldType::kIntList: return "list of integers";
    case FieldType::kNumberList: return "list of numbers";
    case FieldType::kObject: return "object";
    case FieldType::kObjectList: return "list of objects";
    case FieldType::kAny: return "any";
  }
  return "?";
}

namespace {

std::string describe(const json& v) {
  if (v.is_string()) return "string \"" + v.get<std::string>() + "\"";
  if (v.is_boolean()) return "boolean " + v.dump();
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer " + v.dump();
  if (v.is_number()) return "number " + v.dump();
  if (v.is_array()) return "list";
  if (v.is_object()) return "object";
  return "null";
}

[[noreturn]] void type_error(const std::string& pointer, const Field& f, const json& v) {
  const std::string expected = f.bool_or_choice ? "boolean or string" : type_name(f.type);
  throw_usage(fmt::format("{}: expected {}, got {}", pointer, expected, describe(v)));
}

void check_range(const std::string& pointer, const Field& f, double x) {
  if (x < f.min || x > f.max) {
    throw_usage(fmt::format("{}: {} is out of range [{}, {}]", pointer, x, f.min, f.max));
  }
}

bool is_integer(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return true;
  if (v.is_number_float()) {
    // Within int64 before the cast (a cast out of range is undefined; found by fuzz_config).
    const double d = v.get<double>();
    return std::isfinite(d) && std::fabs(d) < 9.0e18 && d == std::trunc(d);
  }
  return false;
}

void check_number(const std::string& pointer, const Field& f, json& v, bool integer) {
  if (!v.is_number() || (integer && !is_integer(v))) type_error(pointer, f, v);
  if (integer && v.is_number_float()) v = static_cast<long long>(v.get<double>());
  check_range(pointer, f, v.get<double>());
}

void check_list(const std::string& pointer, const Field& f, json& v, bool integer) {
  if (!v.is_array()) type_error(pointer, f, v);
  for (size_t i = 0; i < v.size(); ++i) check_number(pointer + "/" + std::to_string(i), f, v[i], integer);
}

void check_value(const std::string& pointer, const Field& f, json& v) {
  switch (f.type) {
    case FieldType::kInt: check_number(pointer, f, v, true); break;
    case FieldType::kNumber:
      if (f.number_or_list && v.is_array()) {
        check_list(pointer, f, v, false);
      } else {
        check_number(pointer, f, v, false);
      }
      break;
    case FieldType::kBool:
      if (!v.is_boolean()) type_error(pointer, f, v);
      break;
    case FieldType::kString:
      if (f.bool_or_choice && v.is_boolean()) break;
      if (!v.is_string()) type_error(pointer, f, v);
      if (!f.choices.empty()) {
        const auto s = v.get<std::string>();
        if (std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
          std::string msg = fmt::format("{}: \"{}\" is not one of {}", pointer, s, fmt::join(f.choices, ", "));
          const auto hint = closest_match(s, f.choices);
          if (!hint.empty()) msg += fmt::format("; did you mean \"{}\"?", hint);
          throw_usage(msg);
        }
      }
      break;
    case FieldType::kIntList: check_list(pointer, f, v, true); break;
    case FieldType::kNumberList: check_list(pointer, f, v, false); break;
    case FieldType::kObject:
      if (!v.is_object()) type_error(pointer, f, v);
      apply_schema(v, f.children, pointer);
      break;
    case FieldType::kObjectList:
      if (!v.is_array()) type_error(pointer, f, v);
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string p = pointer + "/" + std::to_string(i);
        if (!v[i].is_object()) throw_usage(p + ": expected object, got " + describe(v[i]));
        apply_schema(v[i], f.children, p);
      }
      break;
    case FieldType::kAny: break;
  }
}

}  // namespace

void apply_schema(json& section, const std::vector<Field>& fields, const std::string& pointer) {
  if (section.is_null()) section = json::object();
  if (!section.is_object()) throw_usage((pointer.empty() ? "/" : pointer) + ": expected object, got " + describe(section));
  std::vector<std::string> known;
  for (const auto& f : fields) known.push_back(f.key);
  for (const auto& item : section.items()) {
    if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
    std::string msg = fmt::format("{}/{}: unknown key", pointer, item.key());
    const auto hint = closest_match(item.key(), known);
    if (!hint.empty()) msg += fmt::format("; did you mean \"{}\"?", hint);
    throw_usage(msg);
  }
  for (const auto& f : fields) {
    const std::string p = pointer + "/" + f.key;
    if (!section.contains(f.key) || section[f.key].is_null()) {
      if (f.type == FieldType::kObject) {
        section[f.key] = f.default_value.is_null() ? json::object() : f.default_value;
      } else if (!f.default_value.is_null()) {
        section[f.key] = f.default_value;
      } else if (f.optional) {
        section[f.key] = nullptr;
        continue;
      } else {
        throw_usage(p + ": required key is missing");
      }
    }
    check_value(p, f, section[f.key]);
  }
}

std::string schema_markdown_rows(const std::vector<Field>& fields, const std::string& prefix) {
  std::string out;
  for (const auto& f : fields) {
    const std::string key = prefix.empty() ? f.key : prefix + "." + f.key;
    if (f.type == FieldType::kObject) {
      out += schema_markdown_rows(f.children, key);
      continue;
    }
    std::string type = type_name(f.type);
    if (!f.choices.empty()) type = fmt::format("{}", fmt::join(f.choices, " \\| "));
    if (f.bool_or_choice) type = "boolean \\| " + type;
    const std::string def = f.default_value.is_null() ? (f.optional ? "none" : "required") : "`" + f.default_value.dump() + "`";
    out += fmt::format("| `{}` | {} | {} | {} |\n", key, type, def, f.doc);
    if (f.type == FieldType::kObjectList) out += schema_markdown_rows(f.children, key + "[]");
  }
  return out;
}

}  // namespace deepl::schema
