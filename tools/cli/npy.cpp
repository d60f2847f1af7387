#include "npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/error.h"

namespace tessera::cli {

namespace {
struct NpyType {
  const char* descr;
  DType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {"<f4", DType::kFloat},     {"<f8", DType::kDouble},      {"<f2", DType::kFloat16}, {"<i8", DType::kInt64},
    {"<i4", DType::kInt32},     {"<i2", DType::kInt16},       {"|i1", DType::kInt8},    {"|u1", DType::kUint8},
    {"<u2", DType::kUint16},    {"<u4", DType::kUint32},      {"<u8", DType::kUint64},  {"|b1", DType::kBool},
    {"<c8", DType::kComplex64}, {"<c16", DType::kComplex128},
};

std::string header_value(const std::string& header, const std::string& key) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return {};
  size_t start = header.find(':', at);
  if (start == std::string::npos) return {};
  ++start;
  while (start < header.size() && header[start] == ' ') ++start;
  if (header[start] == '(') return header.substr(start, header.find(')', start) - start + 1);
  size_t end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}
// Appends code point cp as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Empty strings ('<U0') carry no data to bound their count by: at most this many are read (32 MiB of std::string).
constexpr int64_t kMaxEmptyStrings = int64_t{1} << 20;

// A string tensor from '<U{width}' data: each element `width` UTF-32LE code units, NUL-padded; stored as UTF-8.
Tensor unicode_strings(const std::string& bytes, size_t data_offset, const std::vector<int64_t>& shape, int64_t width,
                       const std::string& source) {
  const int64_t count = shape_element_count(shape);
  const uint64_t need = static_cast<uint64_t>(count) * static_cast<uint64_t>(width) * 4;
  check_argument(count >= 0 && bytes.size() - data_offset == need, "'", source, "' holds ", bytes.size() - data_offset,
                 " bytes of data but shape ", shape_to_string(shape), " of <U", width, " needs ", need);
  // A '<U0' header with a huge shape asked for 19 GB of empty strings from a 130-byte file (found by fuzz_npy).
  check_argument(width > 0 || count <= kMaxEmptyStrings, "'", source, "' declares ", count,
                 " empty strings ('<U0', shape ", shape_to_string(shape), "); at most ", kMaxEmptyStrings, " are read");
  Tensor t(DType::kString, shape);
  for (int64_t i = 0; i < count; ++i) {
    std::string& out = t.data<std::string>()[i];
    for (int64_t k = 0; k < width; ++k) {
      uint32_t cp;
      std::memcpy(&cp, bytes.data() + data_offset + (i * width + k) * 4, 4);
      if (cp == 0) break;
      check_argument(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF), "'", source, "' element ", i,
                     " holds an invalid code point ", cp);
      append_utf8(out, cp);
    }
  }
  return t;
}
}  // namespace

Tensor tensor_from_npy(const std::string& bytes, const std::string& source) {
  check_argument(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "'", source, "' is not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len;
  size_t offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    check_argument(bytes.size() >= 12, "'", source, "' is truncated");
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    offset = 12;
  }
  check_argument(offset + header_len <= bytes.size(), "'", source, "' has a truncated header");
  const std::string header = bytes.substr(offset, header_len);
  std::string descr = header_value(header, "descr");
  descr.erase(std::remove(descr.begin(), descr.end(), '\''), descr.end());
  if (descr == "=f4" || descr == "f4") descr = "<f4";
  check_argument(header_value(header, "fortran_order").find("False") != std::string::npos, "'", source,
                 "' is in Fortran order; save it in C order");
  DType dtype = DType::kUndefined;
  for (const NpyType& t : kNpyTypes)
    if (descr == t.descr) dtype = t.dtype;
  // NumPy's unicode strings: '<U' and the characters per element, each a UTF-32 code unit.
  int64_t unicode_width = -1;
  if (descr.size() > 2 && descr.compare(0, 2, "<U") == 0 && descr.size() <= 11 &&
      std::all_of(descr.begin() + 2, descr.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    unicode_width = std::stoll(descr.substr(2));
    dtype = DType::kString;
  }
  check_argument(dtype != DType::kUndefined, "'", source, "' has unsupported dtype '", descr, "'");
  std::vector<int64_t> shape;
  const std::string shape_text = header_value(header, "shape");
  for (size_t i = 0; i < shape_text.size();) {
    if (std::isdigit(static_cast<unsigned char>(shape_text[i]))) {
      size_t end = i;
      while (end < shape_text.size() && std::isdigit(static_cast<unsigned char>(shape_text[end]))) ++end;
      // More than 18 digits would overflow int64 (std::stoll would throw out_of_range, found by fuzz_npy).
      check_argument(end - i <= 18, "'", source, "' has a dimension of ", end - i, " digits in shape ", shape_text);
      shape.push_back(std::stoll(shape_text.substr(i, end - i)));
      i = end;
    } else {
      ++i;
    }
  }
  const size_t data_offset = offset + header_len;
  const int64_t count = shape_element_count(shape);
  if (unicode_width >= 0) return unicode_strings(bytes, data_offset, shape, unicode_width, source);
  const uint64_t need = static_cast<uint64_t>(count) * dtype_size(dtype);
  check_argument(bytes.size() - data_offset == need, "'", source, "' holds ", bytes.size() - data_offset,
                 " bytes of data but shape ", shape_to_string(shape), " needs ", need);
  Tensor t(dtype, shape);
  if (need) std::memcpy(t.raw_data(), bytes.data() + data_offset, need);
  return t;
}

std::string tensor_to_npy(const Tensor& tensor) {
  const char* descr = nullptr;
  for (const NpyType& t : kNpyTypes)
    if (t.dtype == tensor.dtype()) descr = t.descr;
  check_argument(descr != nullptr, "cannot write ", tensor.description(), " as .npy");
  std::string shape = "(";
  for (size_t i = 0; i < tensor.rank(); ++i)
    shape += std::to_string(tensor.dim(i)) + (tensor.rank() == 1 ? "," : (i + 1 < tensor.rank() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>((header.size() >> 8) & 0xFF);
  out += header;
  out.append(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
  return out;
}

}  // namespace tessera::cli
