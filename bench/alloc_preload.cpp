// Counts the heap allocations of a whole process (LD_PRELOAD): malloc, calloc, realloc and the aligned
// allocators (operator new ends in malloc) go to glibc's own after a relaxed atomic increment; a thread replaces
// the file named by ALLOC_COUNT_FILE with the count every 50 ms (written beside it, renamed over it, so a reader
// never sees it half-written; open/write/rename allocate nothing).
// Used by bench/alloc_tcp.sh.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

std::atomic<unsigned long> allocations{0};
void note() { allocations.fetch_add(1, std::memory_order_relaxed); }

char tmp_path[4096];

void* report(void* path) {
  for (;;) {
    char line[32];
    const int len = std::snprintf(line, sizeof line, "%lu\n", allocations.load(std::memory_order_relaxed));
    const int fd = ::open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const bool written = ::write(fd, line, static_cast<size_t>(len)) == len;
      ::close(fd);
      if (written) ::rename(tmp_path, static_cast<const char*>(path));
    }
    ::usleep(50000);
  }
  return nullptr;
}

__attribute__((constructor)) void start() {
  const char* path = std::getenv("ALLOC_COUNT_FILE");
  if (!path || std::snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path) >= static_cast<int>(sizeof tmp_path)) return;
  // The process's signals (SIGTERM, SIGHUP) are not this thread's to take.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_t t;
  if (pthread_create(&t, nullptr, report, const_cast<char*>(path)) == 0) pthread_detach(t);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

extern "C" {
void* malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  note();
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
int posix_memalign(void** p, size_t a, size_t n) {
  note();
  *p = __libc_memalign(a, n);
  return *p ? 0 : ENOMEM;
}
}
