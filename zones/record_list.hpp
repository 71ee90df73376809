// A zone's records in presentation form, packed: one text buffer and a small fixed entry per record, owners
// that repeat back to back stored once. A daemon that allows transfers keeps every zone's records for AXFR
// and IXFR; as one heap string per owner and 104-byte records that was ~150 MB at 100,000 endpoints.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace vpced::zones {

// One record, owning its text: history steps, tests, the state file.
struct Record {
  std::string owner;  // absolute, lowercase, with the trailing dot
  uint32_t ttl = 0;
  std::string type;   // "SOA", "NS", "A"
  std::string rdata;  // presentation format, names absolute
  auto operator<=>(const Record&) const = default;
};

// One record as views into storage that outlives it (a RecordList or a Record). Ordered like Record.
struct RecordRef {
  std::string_view owner;
  uint32_t ttl = 0;
  std::string_view type;
  std::string_view rdata;

  RecordRef() = default;
  RecordRef(std::string_view o, uint32_t t, std::string_view ty, std::string_view rd)
      : owner(o), ttl(t), type(ty), rdata(rd) {}
  RecordRef(const Record& r) : owner(r.owner), ttl(r.ttl), type(r.type), rdata(r.rdata) {}  // NOLINT: a view of it
  Record copy() const { return {std::string(owner), ttl, std::string(type), std::string(rdata)}; }
  auto operator<=>(const RecordRef&) const = default;
  bool operator==(const RecordRef&) const = default;
};

// Appends `r` as a master-file line without its newline: "owner<TAB>ttl<TAB>IN<TAB>type<TAB>rdata" (RFC 1035
// §5.1; ldns reads it too).
void append_master_line(std::string& out, RecordRef r);

class RecordList {
  // 16 bytes a record (600,000 of them at 100,000 endpoints). A zone holds a handful of record types, so a
  // record names its type by index into types_ instead of by offset and length.
  struct Entry {
    uint32_t owner = 0, rdata = 0;  // offsets into text_
    uint32_t ttl = 0;
    uint32_t owner_len : 12 = 0, type : 4 = 0, rdata_len : 16 = 0;
  };
  static_assert(sizeof(Entry) == 16);
  struct Type {
    uint32_t offset = 0;  // into text_
    uint8_t length = 0;
  };

 public:
  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = RecordRef;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = RecordRef;
    iterator() = default;
    iterator(const RecordList* l, size_t i) : list_(l), i_(static_cast<difference_type>(i)) {}
    RecordRef operator*() const { return (*list_)[static_cast<size_t>(i_)]; }
    RecordRef operator[](difference_type n) const { return (*list_)[static_cast<size_t>(i_ + n)]; }
    iterator& operator++() { return ++i_, *this; }
    iterator operator++(int) { auto t = *this; ++i_; return t; }
    iterator& operator--() { return --i_, *this; }
    iterator operator--(int) { auto t = *this; --i_; return t; }
    iterator& operator+=(difference_type n) { return i_ += n, *this; }
    iterator& operator-=(difference_type n) { return i_ -= n, *this; }
    friend iterator operator+(iterator a, difference_type n) { return a += n; }
    friend iterator operator+(difference_type n, iterator a) { return a += n; }
    friend iterator operator-(iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const iterator& a, const iterator& b) { return a.i_ - b.i_; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.i_ == b.i_; }
    friend auto operator<=>(const iterator& a, const iterator& b) { return a.i_ <=> b.i_; }

   private:
    const RecordList* list_ = nullptr;
    difference_type i_ = 0;
  };
  using const_iterator = iterator;
  using value_type = RecordRef;

  RecordList() = default;
  RecordList(std::initializer_list<Record> records);

  // Appends a record (copied first if it views this list's own text). An owner equal to the last record's is
  // not stored again. Throws std::length_error for what does not fit the entry's fields: an owner over
  // kMaxOwner bytes (a name's presentation form, every octet escaped, is at most ~1,010), rdata over 65,535,
  // a type over 255, more than kMaxTypes distinct types in one list, 4 GiB of text in all.
  void push_back(RecordRef r);
  // Appends every record of `other` (the public zone's second half, written by a helper thread).
  void append(const RecordList& other);
  void reserve(size_t records, size_t text_bytes);

  static constexpr size_t kMaxOwner = 4095, kMaxTypes = 16;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  RecordRef operator[](size_t i) const {
    return ref(entries_[i]);
  }
  size_t text_size() const { return text_.size(); }
  RecordRef front() const { return (*this)[0]; }
  RecordRef back() const { return (*this)[size() - 1]; }
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size()}; }

  // Room kept, in a list reserved or appended to, for an SOA's rewritten rdata (its serial): the rewrite then
  // does not move the text.
  static constexpr size_t kSpareText = 1024;
  // Sorts the records [from, to) (RecordRef order); removes adjacent equal records from [from, end).
  void sort(size_t from, size_t to);
  void unique(size_t from);
  // The records in the order `order` gives (indexes into this list, each at most once).
  void reorder(const std::vector<uint32_t>& order);
  // Replaces record i's rdata (the SOA's serial): in place when it is no longer, else appended.
  void set_rdata(size_t i, std::string_view rdata);
  // Keeps the first n records and only the text they use.
  void truncate(size_t n);
  // Bytes held (entries and text), for the state file's size estimate and memory accounting.
  size_t bytes() const { return entries_.capacity() * sizeof(Entry) + text_.capacity() + types_.capacity() * sizeof(Type); }

  bool operator==(const RecordList& other) const;

 private:
  uint32_t store(std::string_view s);
  bool views_text(std::string_view s) const;
  uint32_t type_index(std::string_view t);
  RecordRef ref(const Entry& e) const {
    const char* t = text_.data();
    const Type& ty = types_[e.type];
    return {{t + e.owner, e.owner_len}, e.ttl, {t + ty.offset, ty.length}, {t + e.rdata, e.rdata_len}};
  }

  std::vector<char> text_;  // a vector: reserve() takes exactly what it is asked for
  std::vector<Entry> entries_;
  std::vector<Type> types_;  // distinct types in order of first use
};

}  // namespace vpced::zones
