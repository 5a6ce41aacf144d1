#pragma once
// Small helpers around nlohmann::json shared by the config, checkpoint and report code.
#include <filesystem>
#include <string>
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

}  // namespace deepl
