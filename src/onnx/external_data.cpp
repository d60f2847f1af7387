#include "onnx/external_data.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace tessera {

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(ErrorCode::kIo, "cannot open external data file '", path, "': ", std::strerror(errno));
  try {
    map(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

MappedFile::MappedFile(int fd, const std::string& name) { map(fd, name); }

void MappedFile::map(int fd, const std::string& name) {
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    fail(ErrorCode::kIo, "external data '", name, "' is not a regular file");
  }
  size_ = static_cast<uint64_t>(info.st_size);
  if (size_ > 0) {
    void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED)
      fail(ErrorCode::kIo, "cannot map external data file '", name, "': ", std::strerror(errno));
    data_ = static_cast<const char*>(mapping);
  }
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

constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

// The error for a failed open of `what`.
[[noreturn]] void fail_open(const std::string& what, int error) {
  if (error == ENOENT || error == ENOTDIR) fail(ErrorCode::kIo, what, ": file not found in the model's folder");
  if (error == EXDEV) fail(ErrorCode::kInvalidModel, what, " resolves (through a symlink) outside the model's folder");
  if (error == ELOOP) {
    fail(ErrorCode::kInvalidModel, what, " passes through a symlink, which external data paths may not follow here");
  }
  fail(ErrorCode::kIo, what, ": cannot open: ", std::strerror(error));
}

// openat2 with RESOLVE_BENEATH; -1 with errno set on failure (ENOSYS where the kernel lacks it).
int openat2_beneath(int dir_fd, const std::string& relative) {
  struct open_how how {};
  how.flags = kReadFlags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof how));
}

// Opens each component with O_NOFOLLOW relative to the previous one; -1 with errno set on failure.
int walk_beneath(int dir_fd, const std::string& relative) {
  int current = dir_fd;
  size_t start = 0;
  while (true) {
    const size_t slash = relative.find('/', start);
    const bool last = slash == std::string::npos;
    const std::string component = relative.substr(start, last ? std::string::npos : slash - start);
    start = slash + 1;
    if (!last && (component.empty() || component == ".")) continue;
    const int flags = last ? kReadFlags | O_NOFOLLOW : O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW;
    const int next = ::openat(current, component.empty() ? "." : component.c_str(), flags);
    int error = errno;
    // O_DIRECTORY | O_NOFOLLOW on a symlink to a folder fails with ENOTDIR: report it as the symlink it is.
    struct stat info {};
    if (next < 0 && error == ENOTDIR && ::fstatat(current, component.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(info.st_mode)) {
      error = ELOOP;
    }
    if (current != dir_fd) ::close(current);
    if (next < 0) {
      errno = error;  // ELOOP where a component is a symlink
      return -1;
    }
    if (last) return next;
    current = next;
  }
}

}  // namespace

int open_beneath(int dir_fd, const std::string& relative, const std::string& what, BeneathResolution resolution) {
  int fd = -1;
  if (resolution == BeneathResolution::kOpenat2IfAvailable) {
    fd = openat2_beneath(dir_fd, relative);
    // Kernels before 5.6 lack openat2; some sandboxes refuse unknown syscalls with EPERM.
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) resolution = BeneathResolution::kComponentWalk;
  }
  if (resolution == BeneathResolution::kComponentWalk) fd = walk_beneath(dir_fd, relative);
  if (fd < 0) fail_open(what, errno);
  return fd;
}

ExternalDataResolver::ExternalDataResolver(std::string model_dir, BeneathResolution resolution)
    : model_dir_(std::move(model_dir)), resolution_(resolution) {
  if (!model_dir_.empty()) dir_fd_ = ::open(model_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

ExternalDataResolver::~ExternalDataResolver() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::shared_ptr<MappedFile> ExternalDataResolver::open(const std::string& location, const std::string& tensor_name) {
  const std::string what = "tensor '" + tensor_name + "': external data location '" + location + "'";
  if (model_dir_.empty() || dir_fd_ < 0) {
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
  const int fd = open_beneath(dir_fd_, location, what, resolution_);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kIo, "external data '", location, "' is not a regular file");
  }
  std::shared_ptr<MappedFile>& file = files_[{info.st_dev, info.st_ino}];
  try {
    if (file == nullptr) file = std::make_shared<MappedFile>(fd, location);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return file;
}

}  // namespace tessera
