#pragma once
// A declarative schema for JSON sections: each Field names a key, its type, default, range and
// documentation. apply_schema validates a section in place (unknown keys with a "did you mean",
// types, ranges, choices, each error naming its JSON pointer) and fills in the defaults, so the
// defaults live in exactly one place and docs/config.md's table is generated from the same data.
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace deepl::schema {

enum class FieldType { kInt, kNumber, kBool, kString, kIntList, kNumberList, kObject, kObjectList, kAny };

struct Field {
  std::string key;
  FieldType type = FieldType::kAny;
  nlohmann::json default_value;  // null: no default (required unless `optional`)
  std::string doc;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // allowed strings (kString)
  std::vector<Field> children;       // fields of the object (kObject) or of each element (kObjectList)
  bool optional = false;             // may stay absent/null without a default
  bool number_or_list = false;       // kNumber that also accepts a list of numbers
  bool bool_or_choice = false;       // kString with choices that also accepts true/false

  Field& range(double lo, double hi) { min = lo; max = hi; return *this; }
};

Field make_field(std::string key, FieldType type, nlohmann::json default_value, std::string doc);
/// A string field that takes one of `choices` (default `def`; null: required).
Field choice(std::string key, nlohmann::json def, std::vector<std::string> choices, std::string doc);
/// An object field with its own fields.
Field object(std::string key, std::vector<Field> children, std::string doc = "");
/// `f` limited to [lo, hi].
Field ranged(Field f, double lo, double hi);
/// `f` allowed to stay absent (null) without a default.
Field optional(Field f);

/// Validates `section` (a JSON object at `pointer`) against `fields`; fills defaults in place.
void apply_schema(nlohmann::json& section, const std::vector<Field>& fields, const std::string& pointer);
/// Markdown rows "| `key` | type | default | doc |" for every field, recursing into objects.
std::string schema_markdown_rows(const std::vector<Field>& fields, const std::string& prefix);
std::string type_name(FieldType type);

}  // namespace deepl::schema
