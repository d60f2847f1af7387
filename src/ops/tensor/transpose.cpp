// Transpose: permutes axes with tiled strided copies; a permutation that only moves size-1 dims is a view.
#include <algorithm>
#include <climits>
#include <numeric>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

// The permutation for `rank`: `perm` when given (validated), else the reversed axes.
std::vector<int64_t> resolve_perm(const std::vector<int64_t>& perm, bool given, size_t rank) {
  std::vector<int64_t> out(rank);
  if (!given) {
    for (size_t i = 0; i < rank; ++i) out[i] = static_cast<int64_t>(rank - 1 - i);
    return out;
  }
  check_argument(perm.size() == rank, "Transpose: perm ", shape_text(perm), " has ", perm.size(),
                 " entries but the input has rank ", rank);
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t p = perm[i] < 0 ? perm[i] + static_cast<int64_t>(rank) : perm[i];
    check_argument(p >= 0 && p < static_cast<int64_t>(rank) && !seen[p], "Transpose: perm ", shape_text(perm),
                   " is not a permutation of ", rank, " axes");
    seen[p] = true;
    out[i] = p;
  }
  return out;
}

std::unique_ptr<Kernel> make_transpose(const KernelInfo& info) {
  const bool given = info.node.has_attribute("perm");
  const std::vector<int64_t> attr_perm = info.node.attr_ints("perm");
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const std::vector<int64_t> perm = resolve_perm(attr_perm, given, x.rank());
    const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
    std::vector<int64_t> out_shape(x.rank()), src_strides(x.rank());
    for (size_t i = 0; i < x.rank(); ++i) {
      out_shape[i] = x.dim(static_cast<size_t>(perm[i]));
      src_strides[i] = in_strides[static_cast<size_t>(perm[i])];
    }
    // Moving only size-1 dims keeps the element order: share the input's memory.
    int64_t last_moved = -1;
    bool in_order = true;
    for (int64_t p : perm) {
      if (x.dim(static_cast<size_t>(p)) == 1) continue;
      in_order &= p > last_moved;
      last_moved = p;
    }
    if (in_order) {
      ctx.set_output(0, x.reshaped(out_shape));
      return;
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, x.dtype(), out_shape);
    copy_strided_to_contiguous(x.dtype(), y.raw_data(), x.raw_data(), src_strides, out_shape, ctx.parallelism());
  });
}

void infer_transpose(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  const std::vector<int64_t> perm =
      resolve_perm(ctx.node().attr_ints("perm"), ctx.node().has_attribute("perm"), x->shape->size());
  std::vector<Dim> out;
  for (int64_t p : perm) out.push_back((*x->shape)[static_cast<size_t>(p)]);
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kTranspose{{.domain = "",
                             .op_type = "Transpose",
                             .since_version = 1,
                             .last_version = INT_MAX,
                             .factory = make_transpose,
                             .infer = infer_transpose}};

}  // namespace
}  // namespace tessera
