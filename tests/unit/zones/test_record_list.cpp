#include "zones/record_list.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using vpced::zones::Record;
using vpced::zones::RecordList;
using vpced::zones::RecordRef;

namespace {

std::vector<Record> copies(const RecordList& l) {
  std::vector<Record> out;
  for (const RecordRef r : l) out.push_back(r.copy());
  return out;
}

RecordList list_of(const std::vector<Record>& rs) {
  RecordList l;
  for (const Record& r : rs) l.push_back(r);
  return l;
}

// Records whose fields collide often (few owners, types and values), in no order.
std::vector<Record> random_records(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<std::string> owners = {"a.example.", "b.example.", "a.b.example.", "example.", "ab.example."};
  const std::vector<std::string> types = {"A", "AAAA", "NS", "SOA"};
  std::vector<Record> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back({owners[rng() % owners.size()], static_cast<uint32_t>(rng() % 3 * 30), types[rng() % types.size()],
                   "10.0.0." + std::to_string(rng() % 7)});
  return out;
}

}  // namespace

TEST_CASE("a record list gives back what was put in it", "[record_list]") {
  const std::vector<Record> rs = {{"example.", 60, "SOA", "ns1.example. hostmaster.example. 1 3600 600 1209600 60"},
                                  {"example.", 60, "NS", "ns1.example."},
                                  {"ns1.example.", 60, "A", "127.0.0.1"},
                                  {"ns1.example.", 60, "AAAA", "::1"},
                                  {"x.example.", 300, "A", ""}};
  RecordList l = list_of(rs);
  REQUIRE(l.size() == rs.size());
  CHECK(copies(l) == rs);
  for (size_t i = 0; i < rs.size(); ++i) CHECK(l[i] == RecordRef(rs[i]));
  CHECK(l.front().type == "SOA");
  CHECK(l.back().owner == "x.example.");
  CHECK(RecordList{rs[0], rs[1], rs[2], rs[3], rs[4]} == l);
  CHECK_FALSE(RecordList{rs[0], rs[1]} == l);
  RecordList copy = l;
  copy.set_rdata(4, "10.0.0.1");
  CHECK_FALSE(copy == l);
  CHECK(l[4].rdata.empty());  // a copy owns its text
}

TEST_CASE("an owner repeated back to back is stored once", "[record_list]") {
  const std::string owner = "vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com.";
  RecordList shared;
  for (int i = 0; i < 3; ++i) shared.push_back({owner, 60, "A", "10.0.0." + std::to_string(i)});
  RecordList apart;  // the same owner, with another in between each time
  for (int i = 0; i < 3; ++i) {
    apart.push_back({owner, 60, "A", "10.0.0." + std::to_string(i)});
    apart.push_back({"x.", 60, "A", "10.0.0.9"});
  }
  CHECK(shared.text_size() == owner.size() + 1 + 3 * 8);  // one owner, type "A" once, three addresses
  CHECK(apart.text_size() > 3 * owner.size());
  for (const RecordRef r : shared) CHECK(r.owner == owner);
  CHECK(shared[0].owner.data() == shared[2].owner.data());
}

TEST_CASE("a record list sorts and removes duplicates as std::sort and std::unique do", "[record_list]") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::vector<Record> rs = random_records(200, seed);
    RecordList l = list_of(rs);
    const size_t from = seed % 5;
    l.sort(from, l.size());
    std::sort(rs.begin() + static_cast<long>(from), rs.end());
    CHECK(copies(l) == rs);
    CHECK(std::is_sorted(l.begin() + static_cast<long>(from), l.end()));
    l.unique(from);
    rs.erase(std::unique(rs.begin() + static_cast<long>(from), rs.end()), rs.end());
    CHECK(copies(l) == rs);
  }
  // RecordRef orders like Record: owner, then TTL, type and rdata.
  const std::vector<Record> rs = random_records(300, 99);
  for (size_t i = 0; i + 1 < rs.size(); ++i) {
    CHECK((RecordRef(rs[i]) < RecordRef(rs[i + 1])) == (rs[i] < rs[i + 1]));
    CHECK((RecordRef(rs[i]) == RecordRef(rs[i + 1])) == (rs[i] == rs[i + 1]));
  }
}

TEST_CASE("a record list is reordered, appended to and cut", "[record_list]") {
  const std::vector<Record> a = random_records(50, 7), b = random_records(30, 8);
  RecordList l = list_of(a);
  std::vector<uint32_t> order(a.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(order.size() - 1 - i);
  l.reorder(order);
  std::vector<Record> reversed(a.rbegin(), a.rend());
  CHECK(copies(l) == reversed);

  l.append(list_of(b));
  reversed.insert(reversed.end(), b.begin(), b.end());
  CHECK(copies(l) == reversed);

  l.truncate(1);
  REQUIRE(l.size() == 1);
  CHECK(l[0] == RecordRef(reversed[0]));
  CHECK(l.text_size() == reversed[0].owner.size() + reversed[0].type.size() + reversed[0].rdata.size());
}

TEST_CASE("an rdata rewrite stays in place when it fits", "[record_list]") {
  RecordList l{{"example.", 60, "SOA", "ns1.example. hostmaster.example. 0 3600 600 1209600 60"},
               {"example.", 60, "NS", "ns1.example."}};
  const size_t text = l.text_size();
  l.set_rdata(0, "ns1.example. hostmaster.example. 7 3600 600 1209600 60");  // same length
  CHECK(l.text_size() == text);
  l.set_rdata(0, "ns1.example. hostmaster.example. 2026112701 3600 600 1209600 60");  // longer
  CHECK(l.text_size() > text);
  CHECK(l[0].rdata == "ns1.example. hostmaster.example. 2026112701 3600 600 1209600 60");
  CHECK(l[1] == RecordRef(Record{"example.", 60, "NS", "ns1.example."}));
  // The rewritten record's rdata may be given as a view of the list itself.
  l.set_rdata(1, l[0].rdata);
  CHECK(l[1].rdata == l[0].rdata);
}

TEST_CASE("a field too long for a record list is refused", "[record_list]") {
  RecordList l;
  CHECK_THROWS_AS(l.push_back(Record{std::string(70000, 'a'), 60, "A", "10.0.0.1"}), std::length_error);
  CHECK_THROWS_AS(l.push_back(Record{"a.", 60, std::string(300, 'T'), "x"}), std::length_error);
  CHECK_THROWS_AS(l.push_back(Record{"a.", 60, "TXT", std::string(70000, 'x')}), std::length_error);
  CHECK_THROWS_AS(l.push_back(Record{std::string(RecordList::kMaxOwner + 1, 'a'), 60, "A", "10.0.0.1"}),
                  std::length_error);
  CHECK(l.empty());
  l.push_back(Record{std::string(RecordList::kMaxOwner, 'a'), 60, "A", "10.0.0.1"});
  CHECK(l[0].owner.size() == RecordList::kMaxOwner);
  l.push_back(Record{"b.", 60, "TXT", std::string(65535, 'x')});
  CHECK(l[1].rdata.size() == 65535);
}

TEST_CASE("a record list holds up to kMaxTypes record types, each stored once", "[record_list]") {
  RecordList l;
  for (size_t i = 0; i < RecordList::kMaxTypes; ++i)
    l.push_back(Record{"a.", 60, "TYPE" + std::to_string(i + 1), "\\# 0"});
  const size_t text = l.text_size();
  l.push_back(Record{"b.", 60, "TYPE3", "\\# 0"});  // a known type adds only the owner and rdata
  CHECK(l.text_size() == text + 2 + 4);
  CHECK(l[RecordList::kMaxTypes].type == "TYPE3");
  CHECK(l[0].type == "TYPE1");
  CHECK_THROWS_AS(l.push_back(Record{"c.", 60, "TYPE99", "\\# 0"}), std::length_error);
  CHECK(l.size() == RecordList::kMaxTypes + 1);
  // Appending maps the other list's types onto this one's.
  RecordList other{{"d.", 60, "TYPE2", "\\# 0"}, {"e.", 60, "TYPE5", "\\# 0"}};
  l.append(other);
  CHECK(l[l.size() - 2].type == "TYPE2");
  CHECK(l[l.size() - 1].type == "TYPE5");
  CHECK(l[l.size() - 1].owner == "e.");
  const size_t text_before = l.text_size();
  // Appending a list with a type this one lacks adds no text beyond the other list's own.
  RecordList fresh{{"f.", 60, "A", "10.0.0.1"}};
  RecordList with_new{{"g.", 60, "AAAA", "::1"}};
  const size_t fresh_text = fresh.text_size();
  fresh.append(with_new);
  CHECK(fresh.text_size() == fresh_text + with_new.text_size());
  CHECK(fresh[1] == RecordRef(Record{"g.", 60, "AAAA", "::1"}));
  // One type too many: refused, and the list is as it was.
  CHECK_THROWS_AS(l.append(RecordList{{"h.", 60, "TYPE99", "\\# 0"}}), std::length_error);
  CHECK(l.size() == RecordList::kMaxTypes + 3);
  CHECK(l.text_size() == text_before);
  CHECK(l[l.size() - 1].owner == "e.");
}

TEST_CASE("a record list takes its own records and itself", "[record_list]") {
  RecordList l{{"a.example.", 60, "A", "10.0.0.1"}, {"b.example.", 60, "AAAA", "::1"}};
  // Pushing one of its own records may move the text the record views: it is copied first.
  for (int i = 0; i < 200; ++i) l.push_back(l[static_cast<size_t>(i % 2)]);
  REQUIRE(l.size() == 202);
  CHECK(l[201] == RecordRef(Record{"b.example.", 60, "AAAA", "::1"}));
  CHECK(l[200] == RecordRef(Record{"a.example.", 60, "A", "10.0.0.1"}));
  l.append(l);
  REQUIRE(l.size() == 404);
  CHECK(std::equal(l.begin(), l.begin() + 202, l.begin() + 202));
}

TEST_CASE("a small list's serial rewrite keeps no spare room", "[record_list]") {
  RecordList l{{"example.", 60, "SOA", "ns1.example. hostmaster.example. 0 3600 600 1209600 60"},
               {"example.", 60, "NS", "ns1.example."}};
  l.set_rdata(0, "ns1.example. hostmaster.example. 2026112701 3600 600 1209600 60");
  const RecordList exact = l;
  CHECK(l.bytes() <= exact.bytes() + 64);
}
