// StringNormalizer: removes stop words and changes case of a 1-D or [1, C] string tensor.
#include <algorithm>
#include <cctype>
#include <climits>
#include <unordered_set>

#include "base/lazy_text.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::string lowered(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string uppered(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::unique_ptr<Kernel> make_string_normalizer(const KernelInfo& info) {
  const std::string action = info.node.attr_string("case_change_action", "NONE");
  check_model(action == "NONE" || action == "LOWER" || action == "UPPER", info.node.label(),
              ": case_change_action must be NONE, LOWER or UPPER, got '", action, "'");
  const bool case_sensitive = info.node.attr_int("is_case_sensitive", 0) != 0;
  std::unordered_set<std::string> stopwords;
  for (const std::string& w : info.node.attr_strings("stopwords")) stopwords.insert(case_sensitive ? w : lowered(w));
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kString, "X must be a string tensor, got ", tensor_text(x));
    check_argument(x.rank() == 1 || (x.rank() == 2 && x.dim(0) == 1), "X must be [C] or [1, C], got ", tensor_text(x));
    std::vector<std::string> kept;
    for (int64_t i = 0; i < x.element_count(); ++i) {
      const std::string& s = x.data<std::string>()[i];
      if (stopwords.count(case_sensitive ? s : lowered(s))) continue;
      kept.push_back(action == "LOWER" ? lowered(s) : action == "UPPER" ? uppered(s) : s);
    }
    if (kept.empty()) kept.push_back("");
    std::vector<int64_t> shape = {static_cast<int64_t>(kept.size())};
    if (x.rank() == 2) shape.insert(shape.begin(), 1);
    Tensor& y = ctx.allocate_output(0, DType::kString, shape);
    for (size_t i = 0; i < kept.size(); ++i) y.data<std::string>()[i] = kept[i];
  });
}

const RegisterOp kStringNormalizer{{.op_type = "StringNormalizer", .since_version = 10, .factory = make_string_normalizer}};

}  // namespace
}  // namespace tessera
