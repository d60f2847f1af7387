// External data: tensor bytes kept in files beside the model, read by mmap with paths confined to the model's
// folder (no absolute paths, no "..", nothing that resolves outside it). Files are opened relative to an open
// descriptor of the folder, so nothing renamed or relinked between a check and the open can lead outside.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace tessera {

// A read-only mapping of a whole file; the mapping lives as long as the object.
class MappedFile {
 public:
  // Maps `path`; throws kIo when it cannot be opened or is not a regular file.
  explicit MappedFile(const std::string& path);
  // Maps the file open as `fd` (the caller keeps and closes `fd`); `name` is for messages. Throws kIo when it is
  // not a regular file or cannot be mapped.
  MappedFile(int fd, const std::string& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Drops the whole pages inside [offset, offset + bytes) from the process's resident memory. The mapping is
  // read-only, so reading them again later maps the same bytes back from the file.
  void release_pages(uint64_t offset, uint64_t bytes) const;

 private:
  void map(int fd, const std::string& name);
  const char* data_ = nullptr;
  uint64_t size_ = 0;
};

// How open_beneath keeps a path inside its folder.
enum class BeneathResolution {
  // openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it (Linux 5.6+): symlinks are followed
  // only while they stay inside the folder. Falls back to kComponentWalk when the kernel lacks openat2.
  kOpenat2IfAvailable,
  // Each component opened with O_NOFOLLOW relative to the previous one: no symlink is followed at all.
  kComponentWalk,
};

// Opens `relative` (already checked: not absolute, no ".." components) for reading beneath the folder open as
// `dir_fd`, with O_NONBLOCK (a FIFO does not block the open). Returns the descriptor, which the caller closes.
// Throws kInvalidModel naming `what` for a path that leaves the folder or meets a symlink it may not follow, kIo
// for a missing or unreadable file.
int open_beneath(int dir_fd, const std::string& relative, const std::string& what, BeneathResolution resolution);

// Resolves and maps external data files for one model folder, sharing one mapping per file.
class ExternalDataResolver {
 public:
  // `model_dir` is the folder holding the model file; empty means external data is refused. The folder is
  // opened here and every location is opened relative to it.
  explicit ExternalDataResolver(std::string model_dir,
                                BeneathResolution resolution = BeneathResolution::kOpenat2IfAvailable);
  ~ExternalDataResolver();
  ExternalDataResolver(const ExternalDataResolver&) = delete;
  ExternalDataResolver& operator=(const ExternalDataResolver&) = delete;

  // Checks `location` (relative, no "..", inside the model folder) and returns the mapping. Throws
  // kInvalidModel naming the tensor for a path that escapes the folder, kIo for a missing file.
  std::shared_ptr<MappedFile> open(const std::string& location, const std::string& tensor_name);

 private:
  std::string model_dir_;
  int dir_fd_ = -1;
  BeneathResolution resolution_;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<MappedFile>> files_;
};

}  // namespace tessera
