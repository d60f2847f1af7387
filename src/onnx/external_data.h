// External data: tensor bytes kept in files beside the model, read by mmap with paths confined to the model's
// folder (no absolute paths, no "..", no symlinks that lead outside).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace tessera {

// A read-only mapping of a whole file; the mapping lives as long as the object.
class MappedFile {
 public:
  // Maps `path`; throws kIo when it cannot be opened or is not a regular file.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Drops the whole pages inside [offset, offset + bytes) from the process's resident memory. The mapping is
  // read-only, so reading them again later maps the same bytes back from the file.
  void release_pages(uint64_t offset, uint64_t bytes) const;

 private:
  const char* data_ = nullptr;
  uint64_t size_ = 0;
};

// Resolves and maps external data files for one model folder, sharing one mapping per file.
class ExternalDataResolver {
 public:
  // `model_dir` is the folder holding the model file; empty means external data is refused.
  explicit ExternalDataResolver(std::string model_dir);

  // Checks `location` (relative, inside the model folder after resolving symlinks) and returns the mapping.
  // Throws kInvalidModel naming the tensor for a path that escapes the folder, kIo for a missing file.
  std::shared_ptr<MappedFile> open(const std::string& location, const std::string& tensor_name);

 private:
  std::string model_dir_;
  std::string real_model_dir_;
  std::map<std::string, std::shared_ptr<MappedFile>> files_;
};

}  // namespace tessera
