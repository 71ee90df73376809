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

TEST_CASE("names under one parent store the parent once", "[name_table]") {
  NameTable<uint32_t> t;
  t.reserve(1003);  // room for all: no rehash on the way (the 50,000-name test grows)
  const std::string parent("\x08" "vpce-svc" "\x09" "us-east-1" "\x04" "vpce" "\x09" "amazonaws" "\x03" "com\0", 39);
  for (uint32_t i = 0; i < 1000; ++i) {
    const std::string label = "vpce-" + std::to_string(100000 + i);  // 11 bytes
    CHECK(t.insert(std::string(1, static_cast<char>(label.size())) + label + parent, i));
  }
  // A second service's names, and the parents themselves as names.
  const std::string other = std::string("\x09" "vpce-svc2", 10) + parent.substr(9);
  CHECK(t.insert(std::string("\x03" "api", 4) + other, 5000));
  CHECK(t.insert(parent, 6000));
  CHECK(t.insert(std::string(1, '\0'), 7000));  // the root: no first label to split off
  t.shrink_to_fit();
  // 1,000 first labels of 12 bytes, "api", the parents once each (the root's too), the root name itself.
  CHECK(t.text_bytes() < 1000 * 12 + 4 + parent.size() + other.size() + parent.size() + 8);
  CHECK(*t.find(std::string(1, '\x0b') + "vpce-100999" + parent) == 999);
  CHECK(t.find(std::string(1, '\x0b') + "vpce-101000" + parent) == nullptr);
  CHECK(*t.find(std::string("\x03" "api", 4) + other) == 5000);
  CHECK(t.find(std::string("\x03" "api", 4) + parent) == nullptr);  // same label, other parent
  CHECK(*t.find(parent) == 6000);
  CHECK(*t.find(std::string(1, '\0')) == 7000);
  // A name lookup never matches a first label and a parent that only add up to it in length.
  CHECK(t.find(std::string(1, '\x0b') + "vpce-100999" + other) == nullptr);
}

TEST_CASE("a name table keeps names that are no wire names whole", "[name_table]") {
  NameTable<int> t;
  const std::string long_name(300, 'x');          // longer than any wire name
  const std::string bad_label("\x40" "abc", 4);  // a first label running past the end
  CHECK(t.insert(long_name, 1));
  CHECK(t.insert(bad_label, 2));
  CHECK(t.insert("", 3));
  CHECK_FALSE(t.insert(long_name, 4));
  CHECK(*t.find(long_name) == 1);
  CHECK(*t.find(bad_label) == 2);
  CHECK(*t.find("") == 3);
  CHECK(t.find(long_name.substr(1)) == nullptr);
  std::map<std::string, int> seen;
  t.for_each([&](std::string_view name, int v) { seen[std::string(name)] = v; });
  CHECK(seen == std::map<std::string, int>{{long_name, 1}, {bad_label, 2}, {"", 3}});
}

TEST_CASE("reserving room zone by zone grows the entries geometrically", "[name_table]") {
  // compile_zone reserves each zone's names before inserting them: a view of many small private zones.
  NameTable<int> t;
  size_t reallocations = 0, capacity = t.capacity();
  for (int zone = 0; zone < 2000; ++zone) {
    t.reserve(t.size() + 3);
    const std::string apex = std::string(1, '\x05') + "z" + std::to_string(1000 + zone) + std::string("\x03" "com\0", 5);
    for (int i = 0; i < 3; ++i) CHECK(t.insert(std::string(1, '\x01') + static_cast<char>('a' + i) + apex, zone));
    if (t.capacity() != capacity) {
      ++reallocations;
      capacity = t.capacity();
    }
  }
  CHECK(t.size() == 6000);
  CHECK(reallocations <= 16);  // reserving exactly would reallocate (and copy every entry) at each of 2,000 zones
  const int* last = t.find(std::string("\x01" "b" "\x05" "z2999" "\x03" "com" "\0", 13));
  REQUIRE(last != nullptr);
  CHECK(*last == 1999);
}
