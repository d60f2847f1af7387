#include "onnx/external_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace tessera {

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::kIo, "cannot open external data file '", path, "': ", std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kIo, "external data '", path, "' is not a regular file");
  }
  size_ = static_cast<uint64_t>(info.st_size);
  if (size_ > 0) {
    void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      ::close(fd);
      fail(ErrorCode::kIo, "cannot map external data file '", path, "': ", std::strerror(errno));
    }
    data_ = static_cast<const char*>(mapping);
  }
  ::close(fd);
}

void MappedFile::release_pages(uint64_t offset, uint64_t bytes) const {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t end = std::min(offset + bytes, size_) / page * page;
  const uint64_t begin = (offset + page - 1) / page * page;
  if (data_ == nullptr || begin >= end) return;
  ::madvise(const_cast<char*>(data_) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

namespace {
std::string real_path(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) return {};
  return buffer;
}
}  // namespace

ExternalDataResolver::ExternalDataResolver(std::string model_dir) : model_dir_(std::move(model_dir)) {
  if (!model_dir_.empty()) real_model_dir_ = real_path(model_dir_);
}

std::shared_ptr<MappedFile> ExternalDataResolver::open(const std::string& location, const std::string& tensor_name) {
  const std::string what = "tensor '" + tensor_name + "': external data location '" + location + "'";
  if (model_dir_.empty() || real_model_dir_.empty()) {
    fail(ErrorCode::kInvalidModel, what, " cannot be resolved: the model was not loaded from a folder");
  }
  if (location.empty()) fail(ErrorCode::kInvalidModel, what, " is empty");
  if (location.find('\0') != std::string::npos) fail(ErrorCode::kInvalidModel, what, " contains a NUL byte");
  if (location[0] == '/' || location[0] == '\\' || (location.size() > 1 && location[1] == ':')) {
    fail(ErrorCode::kInvalidModel, what, " is an absolute path; it must be relative to the model's folder");
  }
  // Reject ".." components outright, before any symlink resolution.
  size_t start = 0;
  while (start <= location.size()) {
    size_t end = location.find_first_of("/\\", start);
    if (end == std::string::npos) end = location.size();
    if (location.compare(start, end - start, "..") == 0 && end - start == 2) {
      fail(ErrorCode::kInvalidModel, what, " leaves the model's folder through '..'");
    }
    start = end + 1;
  }
  const std::string joined = model_dir_ + "/" + location;
  const std::string resolved = real_path(joined);
  if (resolved.empty()) fail(ErrorCode::kIo, what, ": file not found in the model's folder");
  if (resolved.compare(0, real_model_dir_.size() + 1, real_model_dir_ + "/") != 0) {
    fail(ErrorCode::kInvalidModel, what, " resolves (through a symlink) outside the model's folder");
  }
  auto it = files_.find(resolved);
  if (it != files_.end()) return it->second;
  auto file = std::make_shared<MappedFile>(resolved);
  files_[resolved] = file;
  return file;
}

}  // namespace tessera
