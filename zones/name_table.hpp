// A hash table of wire names built once and then only read: the names in one byte arena, the values in one
// array, and open addressing over a slot array holding a part of each name's hash. A lookup touches a slot,
// an entry and the name's bytes, and never allocates.
//
// A name is stored as its first label and a parent: the rest of the name, held once for every name under it.
// The endpoint names of a service share their parent (`vpce-svc-….<region>.vpce.amazonaws.com`, ~60 bytes),
// so the arena holds ~40 bytes a name instead of ~95: at 400,000 names, ~20 MB less than the whole names.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vpced::zones {

template <typename V>
class NameTable {
 public:
  // Adds `name` with `value` unless the name is there already; returns whether it was added. Names longer
  // than 255 bytes (never a wire name) are stored whole.
  bool insert(std::string_view name, const V& value) {
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    const uint64_t h = hash(name);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if (s == 0) {
        entries_.push_back(make_entry(name, value));
        slots_[i] = (h & kTagMask) | entries_.size();  // the entry's index + 1
        return true;
      }
      if ((s & kTagMask) == (h & kTagMask) && equals(entries_[(s & kIndexMask) - 1], name)) return false;
    }
  }

  // The value stored for `name`, or null.
  const V* find(std::string_view name) const {
    if (slots_.empty()) return nullptr;
    const uint64_t h = hash(name);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s & kTagMask) == (h & kTagMask)) {
        const Entry& e = entries_[(s & kIndexMask) - 1];
        if (equals(e, name)) return &e.value;
      }
    }
  }

  // Room for `n` names in all without growing (the slots rehash every name each time they double). Called
  // once per zone with the zone's names added: the entries grow at least twofold, so a view of thousands of
  // small private zones does not copy its entries once per zone.
  void reserve(size_t n) {
    if (n > entries_.capacity()) entries_.reserve(std::max(n, entries_.capacity() * 2));
    size_t slots = slots_.empty() ? 16 : slots_.size();
    while (n * 2 > slots) slots *= 2;
    if (slots != slots_.size()) rehash(slots);
  }

  size_t size() const { return entries_.size(); }
  size_t capacity() const { return entries_.capacity(); }
  bool empty() const { return entries_.empty(); }
  // Bytes of name text held (first labels and parents), for tests and accounting.
  size_t text_bytes() const { return names_.size(); }
  // Gives back the spare capacity of the build, and the index of parents only the build uses: the build is
  // over (a name inserted after this would store its parent again).
  void shrink_to_fit() {
    names_.shrink_to_fit();
    entries_.shrink_to_fit();
    parents_.shrink_to_fit();
    parent_index_ = {};
    last_parent_ = 0;
  }
  // Every (name, value), in insertion order. The name is valid during the call only.
  template <typename F>
  void for_each(F&& f) const {
    std::string name;
    for (const auto& e : entries_) {
      key_into(e, name);
      f(std::string_view(name), e.value);
    }
  }

 private:
  struct Entry {
    uint32_t prefix = 0;                            // offset of the first label in names_
    uint32_t parent : 24 = 0, prefix_length : 8 = 0;  // parents_ index; 0: none (the prefix is the whole name)
    V value;
  };
  struct Parent {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // A slot: the hash's top 32 bits beside the entry's index + 1 (0: empty).
  static constexpr uint64_t kTagMask = 0xFFFFFFFF00000000ull, kIndexMask = 0x00000000FFFFFFFFull;
  static constexpr size_t kMaxParents = (size_t{1} << 24) - 1;

  static uint64_t hash(std::string_view name) { return std::hash<std::string_view>{}(name); }

  bool equals(const Entry& e, std::string_view name) const {
    const Parent& p = parents_[e.parent];
    return e.prefix_length + p.length == name.size() &&
           std::memcmp(names_.data() + e.prefix, name.data(), e.prefix_length) == 0 &&
           std::memcmp(names_.data() + p.offset, name.data() + e.prefix_length, p.length) == 0;
  }
  void key_into(const Entry& e, std::string& out) const {
    const Parent& p = parents_[e.parent];
    out.assign(names_, e.prefix, e.prefix_length);
    out.append(names_, p.offset, p.length);
  }

  Entry make_entry(std::string_view name, const V& value) {
    Entry e{};
    e.value = value;
    // The first label (its length byte and bytes) when it leaves a parent; else the whole name.
    size_t cut = name.size();
    if (!name.empty() && static_cast<uint8_t>(name[0]) > 0 && size_t{1} + static_cast<uint8_t>(name[0]) < name.size())
      cut = 1 + static_cast<uint8_t>(name[0]);
    if (name.size() > 255) cut = name.size();
    uint32_t parent = 0;
    if (cut < name.size()) parent = parent_of(name.substr(cut));
    if (parent == 0) cut = name.size();  // no room for another parent: stored whole
    if (cut > 255) {                     // only a name that is no wire name: keep it whole in a parent of its own
      parent = add_parent(name);
      cut = 0;
    }
    e.parent = parent;
    e.prefix_length = static_cast<uint32_t>(cut);
    e.prefix = static_cast<uint32_t>(names_.size());
    names_.append(name.substr(0, cut));
    return e;
  }

  // The index of `parent` in parents_, adding it; 0 when the table of parents is full.
  uint32_t parent_of(std::string_view parent) {
    // Names arrive in zone order, where neighbours mostly share their parent: try the last one first.
    if (last_parent_ != 0) {
      const Parent& p = parents_[last_parent_];
      if (std::string_view(names_).substr(p.offset, p.length) == parent) return last_parent_;
    }
    if (auto it = parent_index_.find(parent); it != parent_index_.end()) return last_parent_ = it->second;
    if (parents_.size() > kMaxParents) return 0;
    const uint32_t id = add_parent(parent);
    parent_index_.emplace(std::string(parent), id);
    return last_parent_ = id;
  }
  uint32_t add_parent(std::string_view text) {
    if (parents_.empty()) parents_.push_back({});  // index 0: no parent
    if (parents_.size() > kMaxParents) throw std::length_error("name table: more than 16,777,215 parents");
    parents_.push_back({static_cast<uint32_t>(names_.size()), static_cast<uint32_t>(text.size())});
    names_.append(text);
    return static_cast<uint32_t>(parents_.size() - 1);
  }

  void grow() { rehash(slots_.empty() ? 16 : slots_.size() * 2); }
  void rehash(size_t n) {
    slots_.assign(n, 0);
    mask_ = n - 1;
    std::string name;
    for (size_t k = 0; k < entries_.size(); ++k) {
      key_into(entries_[k], name);
      const uint64_t h = hash(name);
      size_t i = h & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = (h & kTagMask) | (k + 1);
    }
  }

  std::string names_;
  std::vector<Entry> entries_;
  std::vector<Parent> parents_{Parent{}};  // [0]: no parent
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  // Build only: parent text → index, and the last parent used.
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> parent_index_;
  uint32_t last_parent_ = 0;
};

}  // namespace vpced::zones
