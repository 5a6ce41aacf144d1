#include "deepl/core/json_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl {

using nlohmann::json;

namespace {
// nlohmann reports a byte offset; people want line and column.
std::string line_and_column(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < byte; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}
}  // namespace

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw_usage(e.what());
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string why = e.what();
    const auto pos = why.find("syntax error");
    if (pos != std::string::npos) why = why.substr(pos);
    throw_usage(path.string() + ": " + line_and_column(text, e.byte) + ": invalid JSON: " + why);
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
    std::string why = e.what();
    const auto pos = why.find("] ");
    if (pos != std::string::npos) why = why.substr(pos + 2);
    throw_usage(path.string() + ": invalid JSON: " + why);
  }
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::vector<std::pair<std::string, json>> flatten_json(const json& value) {
  std::vector<std::pair<std::string, json>> out;
  if (!value.is_object()) return out;
  for (const auto& item : value.items()) {
    if (item.value().is_object() && !item.value().empty()) {
      for (auto& [k, v] : flatten_json(item.value())) out.emplace_back(item.key() + "." + k, std::move(v));
    } else {
      out.emplace_back(item.key(), item.value());
    }
  }
  return out;
}

std::vector<std::string> json_differences(const json& before, const json& now) {
  std::map<std::string, std::pair<json, json>> keys;
  for (auto& [k, v] : flatten_json(before)) keys[k].first = v;
  for (auto& [k, v] : flatten_json(now)) keys[k].second = v;
  std::vector<std::string> out;
  for (const auto& [key, values] : keys) {
    if (values.first != values.second)
      out.push_back(fmt::format("{}: {} -> {}", key, values.first.dump(), values.second.dump()));
  }
  return out;
}

}  // namespace deepl
