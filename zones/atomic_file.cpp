// Atomic replacement of state files and the state directory lock.
#include "zones/atomic_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace vpced::zones {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

// A failed write removes its temporary file: on a full disk a leftover would keep the space it took.
[[noreturn]] void fail_tmp(const std::string& what, const std::filesystem::path& tmp) {
  const int e = errno;
  ::unlink(tmp.c_str());
  errno = e;
  fail(what, tmp);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open", tmp);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      fail_tmp("write", tmp);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    fail_tmp("fsync", tmp);
  }
  if (::close(fd) != 0) fail_tmp("close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_tmp("rename", tmp);
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) fail("open", dir);
  if (::fsync(dfd) != 0) {
    int e = errno;
    ::close(dfd);
    errno = e;
    fail("fsync", dir);
  }
  ::close(dfd);
}

DirLock::DirLock(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto p = dir / "lock";
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("open", p);
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int e = errno;
      ::close(fd_);
      errno = e;
      fail("flock", p);
    }
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace vpced::zones
