// Tests of the snapshot's name table (zones/name_table.hpp): the first value of a name stays, lookups find
// exactly the names inserted, across growth, with names that differ only in their last byte or length.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "zones/name_table.hpp"

using namespace vpced::zones;

TEST_CASE("an empty name table finds nothing", "[name_table]") {
  NameTable<int> t;
  CHECK(t.empty());
  CHECK(t.find("") == nullptr);
  CHECK(t.find(std::string("\x03" "com\0", 5)) == nullptr);
}

TEST_CASE("the first value of a name stays", "[name_table]") {
  NameTable<int> t;
  const std::string name("\x03" "api\x07" "example\x03" "com\0", 17);
  CHECK(t.insert(name, 1));
  CHECK_FALSE(t.insert(name, 2));
  REQUIRE(t.find(name) != nullptr);
  CHECK(*t.find(name) == 1);
  CHECK(t.size() == 1);
  CHECK(t.find(name.substr(0, 16)) == nullptr);  // a prefix is another name
  CHECK(t.find(name + std::string(1, '\0')) == nullptr);
}

TEST_CASE("lookups match a std::map over 50,000 names, through growth", "[name_table]") {
  NameTable<uint32_t> t;
  std::map<std::string, uint32_t> reference;
  for (uint32_t i = 0; i < 50000; ++i) {
    // Names that share long prefixes and suffixes, and some that differ only in length.
    std::string label = "vpce-" + std::to_string(i * 7919u % 100003u);
    if (i % 5 == 0) label += "x";
    std::string name = std::string(1, static_cast<char>(label.size())) + label + std::string("\x03" "com\0", 5);
    const bool fresh = reference.emplace(name, i).second;
    CHECK(t.insert(name, i) == fresh);
  }
  CHECK(t.size() == reference.size());
  size_t found = 0;
  for (const auto& [name, value] : reference) {
    const uint32_t* v = t.find(name);
    REQUIRE(v != nullptr);
    CHECK(*v == value);
    ++found;
    CHECK(t.find(name.substr(1)) == nullptr);  // not inserted: the name without its first byte
  }
  CHECK(found == reference.size());
  t.shrink_to_fit();
  size_t visited = 0;
  t.for_each([&](std::string_view name, uint32_t value) {
    CHECK(reference.at(std::string(name)) == value);
    ++visited;
  });
  CHECK(visited == reference.size());
}
