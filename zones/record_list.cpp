// Packed presentation-form records (record_list.hpp).
#include "zones/record_list.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

namespace vpced::zones {

void append_master_line(std::string& out, RecordRef r) {
  out += r.owner;
  out += '\t';
  out += std::to_string(r.ttl);
  out += "\tIN\t";
  out += r.type;
  out += '\t';
  out += r.rdata;
}

RecordList::RecordList(std::initializer_list<Record> records) {
  for (const Record& r : records) push_back(r);
}

uint32_t RecordList::store(std::string_view s) {
  if (text_.size() + s.size() > std::numeric_limits<uint32_t>::max())
    throw std::length_error("zone records: more than 4 GiB of text");
  const auto at = static_cast<uint32_t>(text_.size());
  text_.insert(text_.end(), s.begin(), s.end());
  return at;
}

bool RecordList::views_text(std::string_view s) const {
  return !s.empty() && !text_.empty() && std::less_equal<>{}(text_.data(), s.data()) &&
         std::less<>{}(s.data(), text_.data() + text_.size());
}

void RecordList::push_back(RecordRef r) {
  // A record viewing this list's own text (push_back(list[i])) is copied first: store() may move the text.
  if (views_text(r.owner) || views_text(r.type) || views_text(r.rdata)) {
    const Record copy = r.copy();
    push_back(copy);
    return;
  }
  if (r.owner.size() > kMaxOwner || r.rdata.size() > UINT16_MAX || r.type.size() > UINT8_MAX)
    throw std::length_error("zone records: a field is too long: " + std::string(r.owner.substr(0, 255)));
  Entry e;
  e.ttl = r.ttl;
  e.owner_len = static_cast<uint32_t>(r.owner.size());
  e.rdata_len = static_cast<uint32_t>(r.rdata.size());
  e.type = type_index(r.type);
  // Records come sorted by owner and type: most repeat the previous record's owner, which is then shared.
  // The comparison reads text_ before store() may move it.
  const bool same_owner = !empty() && back().owner == r.owner;
  e.owner = same_owner ? entries_.back().owner : store(r.owner);
  e.rdata = store(r.rdata);
  entries_.push_back(e);
}

uint32_t RecordList::type_index(std::string_view t) {
  for (size_t i = 0; i < types_.size(); ++i)
    if (std::string_view(text_.data() + types_[i].offset, types_[i].length) == t) return static_cast<uint32_t>(i);
  if (types_.size() == kMaxTypes)
    throw std::length_error("zone records: more than " + std::to_string(kMaxTypes) + " record types in one zone");
  types_.push_back({store(t), static_cast<uint8_t>(t.size())});
  return static_cast<uint32_t>(types_.size() - 1);
}

void RecordList::append(const RecordList& other) {
  if (&other == this) {
    const RecordList copy = other;
    append(copy);
    return;
  }
  if (text_.size() + other.text_.size() > std::numeric_limits<uint32_t>::max())
    throw std::length_error("zone records: more than 4 GiB of text");
  const auto base = static_cast<uint32_t>(text_.size());
  // The other list's type indexes as this list's, worked out before anything changes: a type this list lacks
  // is taken over at its place in the copied text, and one type too many leaves this list as it was.
  std::vector<uint32_t> types;
  std::vector<Type> added;
  for (const Type& t : other.types_) {
    const std::string_view name(other.text_.data() + t.offset, t.length);
    uint32_t index = 0;
    while (index < types_.size() && std::string_view(text_.data() + types_[index].offset, types_[index].length) != name)
      ++index;
    if (index == types_.size()) {
      if (types_.size() + added.size() == kMaxTypes)
        throw std::length_error("zone records: more than " + std::to_string(kMaxTypes) + " record types in one zone");
      index = static_cast<uint32_t>(types_.size() + added.size());
      added.push_back({base + t.offset, t.length});
    }
    types.push_back(index);
  }
  text_.reserve(text_.size() + other.text_.size() + kSpareText);
  text_.insert(text_.end(), other.text_.begin(), other.text_.end());
  types_.insert(types_.end(), added.begin(), added.end());
  entries_.reserve(entries_.size() + other.entries_.size());
  for (Entry e : other.entries_) {
    e.owner += base;
    e.type = types[e.type];
    e.rdata += base;
    entries_.push_back(e);
  }
}

void RecordList::reserve(size_t records, size_t text_bytes) {
  entries_.reserve(records);
  text_.reserve(text_bytes + kSpareText);
}

void RecordList::sort(size_t from, size_t to) {
  std::sort(entries_.begin() + static_cast<ptrdiff_t>(from), entries_.begin() + static_cast<ptrdiff_t>(to),
            [&](const Entry& a, const Entry& b) { return ref(a) < ref(b); });
}

void RecordList::unique(size_t from) {
  if (from >= size()) return;
  size_t out = from + 1;
  for (size_t i = from + 1; i < size(); ++i)
    if ((*this)[i] != (*this)[out - 1]) entries_[out++] = entries_[i];
  entries_.resize(out);
}

void RecordList::reorder(const std::vector<uint32_t>& order) {
  std::vector<Entry> next;
  next.reserve(order.size());
  for (uint32_t i : order) next.push_back(entries_.at(i));
  entries_ = std::move(next);
}

void RecordList::set_rdata(size_t i, std::string_view rdata) {
  if (rdata.size() > UINT16_MAX) throw std::length_error("zone records: rdata too long");
  const std::string copy(rdata);  // rdata may view text_, which store() can move
  Entry& e = entries_.at(i);
  if (copy.size() <= e.rdata_len) {  // rdata is never shared with another record
    std::copy(copy.begin(), copy.end(), text_.begin() + e.rdata);
  } else {
    // A full buffer grows by exactly what this needs, not twice its size: the text is complete (set_serial),
    // and a small zone kept for transfers should not carry spare room for its life.
    if (text_.size() + copy.size() > text_.capacity()) text_.reserve(text_.size() + copy.size());
    e.rdata = store(copy);
  }
  e.rdata_len = static_cast<uint32_t>(copy.size());
}

void RecordList::truncate(size_t n) {
  RecordList kept;
  for (size_t i = 0; i < std::min(n, size()); ++i) kept.push_back((*this)[i]);
  kept.text_.shrink_to_fit();
  kept.entries_.shrink_to_fit();
  *this = std::move(kept);
}

bool RecordList::operator==(const RecordList& other) const {
  return size() == other.size() && std::equal(begin(), end(), other.begin());
}

}  // namespace vpced::zones
