// Crash-safe file replacement: temp file, fsync, rename, fsync of the directory.
#pragma once

#include <filesystem>
#include <string_view>

namespace vpced::zones {

// Replaces `path` with `content` so that after a crash (even kill -9 or power loss) the file holds either
// the old or the new content, never a mix. Throws std::system_error on failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Exclusive advisory lock on `<dir>/lock` (flock), held for the object's lifetime. Creates `dir`.
// The daemon and the offline subcommands take it around every read-modify-write of the state files.
class DirLock {
 public:
  explicit DirLock(const std::filesystem::path& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace vpced::zones
