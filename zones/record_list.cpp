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
  if (r.owner.size() > UINT16_MAX || r.rdata.size() > UINT16_MAX || r.type.size() > UINT8_MAX)
    throw std::length_error("zone records: a field is too long: " + std::string(r.owner.substr(0, 255)));
  Entry e;
  e.ttl = r.ttl;
  e.owner_len = static_cast<uint16_t>(r.owner.size());
  e.type_len = static_cast<uint8_t>(r.type.size());
  e.rdata_len = static_cast<uint16_t>(r.rdata.size());
  // Records come sorted by owner and type: most repeat the previous record's, which is then shared. The
  // comparison reads text_ before store() may move it.
  const RecordRef last = empty() ? RecordRef{} : back();
  const bool same_owner = !empty() && last.owner == r.owner;
  const bool same_type = !empty() && last.type == r.type;
  const Entry prev = empty() ? Entry{} : entries_.back();
  e.owner = same_owner ? prev.owner : store(r.owner);
  e.type = same_type ? prev.type : store(r.type);
  e.rdata = store(r.rdata);
  entries_.push_back(e);
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
  text_.reserve(text_.size() + other.text_.size() + kSpareText);
  text_.insert(text_.end(), other.text_.begin(), other.text_.end());
  entries_.reserve(entries_.size() + other.entries_.size());
  for (Entry e : other.entries_) {
    e.owner += base;
    e.type += base;
    e.rdata += base;
    entries_.push_back(e);
  }
}

void RecordList::reserve(size_t records, size_t text_bytes) {
  entries_.reserve(records);
  text_.reserve(text_bytes + kSpareText);
}

void RecordList::sort(size_t from, size_t to) {
  const char* t = text_.data();
  auto ref = [t](const Entry& e) {
    return RecordRef{{t + e.owner, e.owner_len}, e.ttl, {t + e.type, e.type_len}, {t + e.rdata, e.rdata_len}};
  };
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
  e.rdata_len = static_cast<uint16_t>(copy.size());
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
