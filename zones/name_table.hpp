// A hash table of wire names built once and then only read: the names in one byte arena, the values in one
// array, and open addressing over a slot array holding a part of each name's hash. A lookup touches a slot,
// an entry and the name's bytes, and never allocates; a name costs its bytes plus ~40 bytes of table, about
// a third less than a node-based std::unordered_map<std::string, V> with its per-node and per-string
// allocations.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vpced::zones {

template <typename V>
class NameTable {
 public:
  // Adds `name` with `value` unless the name is there already; returns whether it was added.
  bool insert(std::string_view name, const V& value) {
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    const uint64_t h = hash(name);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if (s == 0) {
        entries_.push_back({static_cast<uint32_t>(names_.size()), static_cast<uint32_t>(name.size()), value});
        names_.append(name);
        slots_[i] = (h & kTagMask) | entries_.size();  // the entry's index + 1
        return true;
      }
      if ((s & kTagMask) == (h & kTagMask) && key(entries_[(s & kIndexMask) - 1]) == name) return false;
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
        if (e.length == name.size() && std::memcmp(names_.data() + e.offset, name.data(), name.size()) == 0)
          return &e.value;
      }
    }
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Gives back the spare capacity of the build.
  void shrink_to_fit() {
    names_.shrink_to_fit();
    entries_.shrink_to_fit();
  }
  // Every (name, value), in insertion order.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& e : entries_) f(key(e), e.value);
  }

 private:
  struct Entry {
    uint32_t offset, length;  // into names_
    V value;
  };
  // A slot: the hash's top 32 bits beside the entry's index + 1 (0: empty).
  static constexpr uint64_t kTagMask = 0xFFFFFFFF00000000ull, kIndexMask = 0x00000000FFFFFFFFull;

  static uint64_t hash(std::string_view name) { return std::hash<std::string_view>{}(name); }
  std::string_view key(const Entry& e) const { return std::string_view(names_).substr(e.offset, e.length); }

  void grow() {
    const size_t n = slots_.empty() ? 16 : slots_.size() * 2;
    slots_.assign(n, 0);
    mask_ = n - 1;
    for (size_t k = 0; k < entries_.size(); ++k) {
      const uint64_t h = hash(key(entries_[k]));
      size_t i = h & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = (h & kTagMask) | (k + 1);
    }
  }

  std::string names_;
  std::vector<Entry> entries_;
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
};

}  // namespace vpced::zones
