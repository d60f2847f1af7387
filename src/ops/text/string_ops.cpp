// StringConcat (broadcasting), StringSplit (Python str.split semantics) and RegexFullMatch.
#include <cctype>
#include <climits>
#include <regex>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

const Tensor& string_input(KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  check_argument(t.dtype() == DType::kString, "input ", i, " must be a string tensor, got ", tensor_text(t));
  return t;
}

std::unique_ptr<Kernel> make_string_concat(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& a = string_input(ctx, 0);
    const Tensor& b = string_input(ctx, 1);
    const std::vector<int64_t> shape = broadcast_shape(a.shape(), b.shape());
    Tensor& out = ctx.allocate_output(0, DType::kString, shape);
    const std::vector<int64_t> strides[2] = {broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape)};
    for_each_broadcast(shape, strides, [&](int64_t o, const int64_t* offsets) {
      out.data<std::string>()[o] = a.data<std::string>()[offsets[0]] + b.data<std::string>()[offsets[1]];
    });
  });
}

std::vector<std::string> split(const std::string& s, const std::string& delimiter, int64_t max_splits) {
  std::vector<std::string> parts;
  if (delimiter.empty()) {  // runs of whitespace separate; leading and trailing whitespace is dropped
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) break;
      if (max_splits >= 0 && static_cast<int64_t>(parts.size()) == max_splits) {
        size_t end = s.size();
        while (end > i && std::isspace(static_cast<unsigned char>(s[end - 1]))) --end;
        parts.push_back(s.substr(i, end - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t start = 0;
  while (true) {
    const size_t at = s.find(delimiter, start);
    if (at == std::string::npos || (max_splits >= 0 && static_cast<int64_t>(parts.size()) == max_splits)) {
      parts.push_back(s.substr(start));
      break;
    }
    parts.push_back(s.substr(start, at - start));
    start = at + delimiter.size();
  }
  return parts;
}

std::unique_ptr<Kernel> make_string_split(const KernelInfo& info) {
  const std::string delimiter = info.node.attr_string("delimiter", "");
  const Attribute* max_attr = info.node.find_attribute("maxsplit");
  const int64_t max_splits = max_attr ? max_attr->i : -1;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = string_input(ctx, 0);
    std::vector<std::vector<std::string>> all;
    size_t widest = 0;
    for (int64_t i = 0; i < x.element_count(); ++i) {
      all.push_back(split(x.data<std::string>()[i], delimiter, max_splits));
      widest = std::max(widest, all.back().size());
    }
    std::vector<int64_t> shape = x.shape();
    shape.push_back(static_cast<int64_t>(widest));
    Tensor& y = ctx.allocate_output(0, DType::kString, shape);
    Tensor& z = ctx.allocate_output(1, DType::kInt64, x.shape());
    for (size_t i = 0; i < all.size(); ++i) {
      z.data<int64_t>()[i] = static_cast<int64_t>(all[i].size());
      for (size_t k = 0; k < all[i].size(); ++k) y.data<std::string>()[i * widest + k] = all[i][k];
    }
  });
}

std::unique_ptr<Kernel> make_regex_full_match(const KernelInfo& info) {
  const std::string pattern = info.node.attr_string("pattern", "");
  std::shared_ptr<std::regex> regex;
  try {
    regex = std::make_shared<std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    fail(ErrorCode::kInvalidModel, info.node.label(), ": pattern '", pattern, "' is not a valid regular expression");
  }
  return make_kernel([regex](KernelContext& ctx) {
    const Tensor& x = string_input(ctx, 0);
    Tensor& y = ctx.allocate_output(0, DType::kBool, x.shape());
    for (int64_t i = 0; i < x.element_count(); ++i) y.data<bool>()[i] = std::regex_match(x.data<std::string>()[i], *regex);
  });
}

const RegisterOp kStringConcat{{.op_type = "StringConcat", .since_version = 20, .factory = make_string_concat,
                                .infer = infer_broadcast_inputs}};
const RegisterOp kStringSplit{{.op_type = "StringSplit", .since_version = 20, .factory = make_string_split}};
const RegisterOp kRegexFullMatch{{.op_type = "RegexFullMatch", .since_version = 20, .factory = make_regex_full_match}};

}  // namespace
}  // namespace tessera
