// docs/config.md documents every key the loader accepts: config_schema() drives both, so docs cannot fall behind.
//
// The matching rule, for a key K of the schema table at dotted path P (config.hpp's SchemaTable):
//  - Top level (P is ""): a heading names the table as `[K]` or `[[K]]` (e.g. "## `[[services]]`").
//  - P has its own heading (`[P]` or `[[P]]`, e.g. "### `[services.load_balancer]`"): the section under that
//    heading, up to the next heading of any level, has a table row whose first cell is `K`
//    ("| `K` | type | default | rules |").
//  - P has no heading (an array of tables or inline table documented inside its parent, e.g.
//    services.load_balancer.targets): P = PARENT.LAST, PARENT has a heading, and K is a word inside a code span
//    of the block documenting LAST in PARENT's section: the row whose first cell is `LAST`, plus any paragraph
//    there starting "Each `LAST` entry". So "| `targets` | array of `{ address, az }` |" documents targets.az.
// A key mentioned only elsewhere (another table's row, the rules prose) does not count: a key shared by two
// tables (`id`, `interval`) must be documented in each.
#include "zones/config.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

using namespace vpced::zones;

namespace {

std::vector<std::string> doc_lines() {
  std::ifstream in(VPCED_SOURCE_DIR "/docs/config.md");
  REQUIRE(in.good());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool is_heading(const std::string& line) { return !line.empty() && line[0] == '#'; }

// The lines under the heading that names table `path` as `[path]` or `[[path]]`, up to the next heading;
// nullopt when no heading names it.
std::optional<std::vector<std::string>> section(const std::vector<std::string>& lines, const std::string& path) {
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (!is_heading(l)) continue;
    if (l.find("`[" + path + "]`") == std::string::npos && l.find("`[[" + path + "]]`") == std::string::npos) continue;
    std::vector<std::string> body;
    for (size_t j = i + 1; j < lines.size() && !is_heading(lines[j]); ++j) body.push_back(lines[j]);
    return body;
  }
  return std::nullopt;
}

bool is_row_for(const std::string& line, const std::string& key) { return line.rfind("| `" + key + "` |", 0) == 0; }

// The text of a section's row for `key` and of its "Each `key` entry" paragraphs.
std::string block_for(const std::vector<std::string>& body, const std::string& key) {
  std::string block;
  bool in_paragraph = false;
  for (const std::string& l : body) {
    if (l.empty() || l[0] == '|') in_paragraph = false;
    if (l.rfind("Each `" + key + "` entry", 0) == 0) in_paragraph = true;
    if (in_paragraph || is_row_for(l, key)) block += l + "\n";
  }
  return block;
}

// Whether `word` appears as a whole word inside one of the `code spans` of `text`.
bool in_code_span(const std::string& text, const std::string& word) {
  static const std::regex span("`([^`]*)`");
  const std::regex whole("(^|[^A-Za-z0-9_])" + word + "($|[^A-Za-z0-9_])");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), span); it != std::sregex_iterator(); ++it)
    if (std::regex_search((*it)[1].str(), whole)) return true;
  return false;
}

// Why `key` of table `path` is not documented, or "" when it is (the rule at the top of this file).
std::string undocumented(const std::vector<std::string>& lines, const std::string& path, const std::string& key) {
  if (path.empty()) {
    if (section(lines, key)) return "";
    return "no heading names `[" + key + "]` or `[[" + key + "]]`";
  }
  if (auto body = section(lines, path)) {
    for (const std::string& l : *body)
      if (is_row_for(l, key)) return "";
    return "no row \"| `" + key + "` |\" under the heading of `[" + path + "]`";
  }
  size_t dot = path.rfind('.');
  if (dot == std::string::npos) return "no heading names `[" + path + "]` or `[[" + path + "]]`";
  const std::string parent = path.substr(0, dot), last = path.substr(dot + 1);
  auto body = section(lines, parent);
  if (!body) return "neither `" + path + "` nor its parent `" + parent + "` has a heading";
  if (in_code_span(block_for(*body, last), key)) return "";
  return "`" + key + "` is not in a code span of the `" + last + "` row (or an \"Each `" + last +
         "` entry\" paragraph) under the heading of `[" + parent + "]`";
}

}  // namespace

TEST_CASE("every config key is documented in docs/config.md", "[schema][docs]") {
  const auto lines = doc_lines();
  size_t keys = 0;
  for (const SchemaTable& t : config_schema()) {
    for (const std::string& k : t.keys) {
      ++keys;
      const std::string full = t.path.empty() ? k : t.path + "." + k;
      INFO("config key " << full);
      CHECK(undocumented(lines, t.path, k) == "");
    }
  }
  CHECK(keys > 50);
}

TEST_CASE("docs/config.md documents no key the loader rejects", "[schema][docs]") {
  // The reverse direction, for the tables with their own heading: each key row names a schema key.
  const auto lines = doc_lines();
  static const std::regex row("^\\| `([A-Za-z0-9_]+)` \\|");
  for (const SchemaTable& t : config_schema()) {
    if (t.path.empty()) continue;
    auto body = section(lines, t.path);
    if (!body) continue;
    const std::set<std::string> known(t.keys.begin(), t.keys.end());
    for (const std::string& l : *body) {
      std::smatch m;
      if (!std::regex_search(l, m, row)) continue;
      INFO("docs/config.md row \"" << l << "\" under `[" << t.path << "]`");
      CHECK(known.count(m[1].str()) == 1);
    }
  }
}

TEST_CASE("the schema table has one entry per path, parents first", "[schema]") {
  std::set<std::string> seen;
  for (const SchemaTable& t : config_schema()) {
    INFO("schema path '" << t.path << "'");
    CHECK(seen.insert(t.path).second);
    CHECK_FALSE(t.keys.empty());
    if (t.path.empty()) continue;
    size_t dot = t.path.rfind('.');
    const std::string parent = dot == std::string::npos ? "" : t.path.substr(0, dot);
    const std::string last = dot == std::string::npos ? t.path : t.path.substr(dot + 1);
    CHECK(seen.count(parent) == 1);
    // The parent table lists this table as one of its keys.
    for (const SchemaTable& p : config_schema())
      if (p.path == parent) CHECK(std::find(p.keys.begin(), p.keys.end(), last) != p.keys.end());
  }
}
