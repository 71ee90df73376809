// Counts heap allocations on the query path (docs/performance.md): malloc and operator new are replaced by
// counting wrappers; respond() runs over a loaded snapshot for a warm-up pass, then N more queries with
// counting on. Exits 1 unless the count is 0. Also prints ns per respond() call (single thread, no sockets).
// usage: alloc_count CONFIG ZONE_FILE [N]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dns/respond.hpp"
#include "dns/wire.hpp"
#include "zones/load.hpp"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> counting{false};
std::atomic<uint64_t> allocations{0};
void note() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" void* malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t m) {
  note();
  return __libc_calloc(n, m);
}
extern "C" void* realloc(void* p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
extern "C" void* aligned_alloc(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
extern "C" int posix_memalign(void** p, size_t a, size_t n) {
  note();
  *p = __libc_memalign(a, n);
  return *p ? 0 : ENOMEM;
}
void* operator new(size_t n) {
  note();
  if (void* p = __libc_malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  note();
  return __libc_malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }

namespace {

std::vector<uint8_t> make_query(uint16_t id, const std::string& name, uint16_t qtype, bool edns) {
  std::vector<uint8_t> p = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0, 0, 1, 0, 0, 0, 0, 0,
                            static_cast<uint8_t>(edns ? 1 : 0)};
  size_t start = 0;
  std::string n = name.back() == '.' ? name.substr(0, name.size() - 1) : name;
  while (start < n.size()) {
    size_t dot = n.find('.', start);
    if (dot == std::string::npos) dot = n.size();
    p.push_back(static_cast<uint8_t>(dot - start));
    p.insert(p.end(), n.begin() + static_cast<long>(start), n.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  p.insert(p.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  if (edns) p.insert(p.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: alloc_count CONFIG ZONE_FILE [N]\n");
    return 2;
  }
  const long n = argc > 3 ? std::atol(argv[3]) : 1000000;
  vpced::zones::Diagnostics diags;
  vpced::zones::LoadOptions lo;
  lo.persist = false;
  auto snap = vpced::zones::load_snapshot(argv[1], lo, diags);
  if (!snap) {
    std::fprintf(stderr, "alloc_count: cannot load %s\n", argv[1]);
    return 2;
  }
  // The bench mix (bench/make_queries.py): 80 % A hits, 10 % AAAA NODATA, 10 % NXDOMAIN; half with EDNS.
  std::vector<std::string> names;
  std::string apex;
  std::ifstream zone(argv[2]);
  for (std::string line; std::getline(zone, line);) {
    std::istringstream f(line);
    std::string owner, ttl, cls, type;
    if (!(f >> owner >> ttl >> cls >> type) || cls != "IN") continue;
    if (type == "SOA") apex = owner;
    if (type == "A" && owner.rfind("vpce-", 0) == 0) names.push_back(owner);
  }
  if (names.empty() || apex.empty()) {
    std::fprintf(stderr, "alloc_count: no names in %s\n", argv[2]);
    return 2;
  }
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> queries;
  for (int i = 0; i < 10000; ++i) {
    const int r = i % 10;
    const std::string& name = names[rng() % names.size()];
    if (r < 8) queries.push_back(make_query(static_cast<uint16_t>(i), name, vpced::dns::kTypeA, i % 2));
    else if (r == 8) queries.push_back(make_query(static_cast<uint16_t>(i), name, vpced::dns::kTypeAaaa, i % 2));
    else queries.push_back(make_query(static_cast<uint16_t>(i), "nx" + std::to_string(rng()) + "." + apex, 1, i % 2));
  }
  std::vector<uint8_t> out(4096);
  vpced::dns::Client client{*vpced::zones::parse_ip("127.0.0.1"), vpced::dns::Transport::Udp, -1};
  vpced::dns::Outcome oc;
  size_t bytes = 0;
  for (const auto& q : queries) bytes += vpced::dns::respond(*snap, q, client, out, &oc);  // warm-up
  counting = true;
  delete new volatile int(1);  // the counter must see an allocation, or a 0 below would prove nothing
  if (allocations.exchange(0) != 1) {
    std::fprintf(stderr, "alloc_count: the counting allocator is not in use\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) bytes += vpced::dns::respond(*snap, queries[i % queries.size()], client, out, &oc);
  auto t1 = std::chrono::steady_clock::now();
  counting = false;
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(n);
  std::printf("respond(): %ld queries over %zu names, %llu heap allocations, %.1f ns/query (%zu bytes out)\n", n,
              names.size(), static_cast<unsigned long long>(allocations.load()), ns, bytes);
  return allocations.load() == 0 ? 0 : 1;
}
