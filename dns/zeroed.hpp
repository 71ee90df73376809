// Zeroed memory straight from the kernel: an anonymous private mapping, whose pages cost resident memory only
// once something writes them. For large tables of trivial types that start at zero and are mostly never used
// (per-view counters for 1,024 views, RRL buckets while RRL is off). calloc does not promise this: once glibc
// has raised its mmap threshold it serves such a block from the heap and clears it, touching every page.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

namespace vpced::dns {

template <typename T>
struct Unmap {
  size_t bytes = 0;
  void operator()(T* p) const {
    if (p) ::munmap(const_cast<std::remove_const_t<T>*>(p), bytes);
  }
};

template <typename T>
using Zeroed = std::unique_ptr<T, Unmap<std::remove_extent_t<T>>>;

// `count` zero-valued T (T trivial: zero bytes are a valid value, and no constructor needs to run).
template <typename T>
Zeroed<T[]> zeroed_array(size_t count) {
  static_assert(std::is_trivial_v<T>);
  const size_t bytes = count * sizeof(T);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return Zeroed<T[]>(static_cast<T*>(p), Unmap<T>{bytes});
}

template <typename T>
Zeroed<T> zeroed_object() {
  static_assert(std::is_trivial_v<T>);
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return Zeroed<T>(static_cast<T*>(p), Unmap<T>{sizeof(T)});
}

}  // namespace vpced::dns
