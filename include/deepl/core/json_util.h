#pragma once
// Small helpers around nlohmann::json shared by the config, checkpoint and report code.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace deepl {

/// Parses a JSON file; throws a usage error "<file>: line L, column C: <why>" on bad syntax.
nlohmann::json read_json_file(const std::filesystem::path& path);
/// Writes JSON (pretty, trailing newline) atomically.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);
/// The closest candidate within a small edit distance, or "" when none is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
/// Levenshtein edit distance.
size_t edit_distance(const std::string& a, const std::string& b);
/// The leaves of a JSON object under dotted keys ("optimizer.lr"); arrays are leaves.
std::vector<std::pair<std::string, nlohmann::json>> flatten_json(const nlohmann::json& value);

/// The leaves that differ between two objects, sorted: "optimizer.lr: 0.001 -> 0.01" (null: absent).
std::vector<std::string> json_differences(const nlohmann::json& before, const nlohmann::json& now);

}  // namespace deepl
