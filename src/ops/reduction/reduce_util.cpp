#include "ops/reduction/reduce_util.h"

#include <algorithm>

#include "base/error.h"

namespace tessera {

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const std::string& what) {
  std::vector<int64_t> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    const int64_t a = axis < 0 ? axis + rank : axis;
    check_argument(a >= 0 && a < rank, "axis ", axis, " is out of range for ", what, " of rank ", rank);
    check_argument(!seen[static_cast<size_t>(a)], "axis ", axis, " is given twice for ", what);
    seen[static_cast<size_t>(a)] = true;
    out.push_back(a);
  }
  return out;
}

AxisSplit split_at_axis(const std::vector<int64_t>& shape, int64_t axis) {
  AxisSplit split;
  if (shape.empty()) return split;
  for (int64_t i = 0; i < axis; ++i) split.outer *= shape[static_cast<size_t>(i)];
  split.axis = shape[static_cast<size_t>(axis)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) split.inner *= shape[i];
  return split;
}

std::vector<int64_t> reduced_shape(const std::vector<int64_t>& shape, const std::vector<bool>& reduced, bool keepdims) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!reduced[i])
      out.push_back(shape[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

ReducePlan make_reduce_plan(const std::vector<int64_t>& shape, const std::vector<bool>& reduced) {
  // Merge adjacent axes of the same kind (size-1 axes vanish), innermost first.
  struct Group {
    int64_t dim;
    int64_t stride;
    bool reduced;
  };
  std::vector<Group> groups;  // innermost first
  int64_t stride = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    const int64_t d = shape[k];
    if (d != 1) {
      if (!groups.empty() && groups.back().reduced == reduced[k] &&
          groups.back().stride * groups.back().dim == stride) {
        groups.back().dim *= d;
      } else {
        groups.push_back({d, stride, reduced[k]});
      }
    }
    stride *= d;
  }
  ReducePlan plan;
  if (groups.empty()) return plan;
  plan.inner = groups.front().dim;
  plan.inner_reduced = groups.front().reduced;
  for (size_t i = groups.size(); i-- > 1;) {
    const Group& g = groups[i];
    (g.reduced ? plan.reduced : plan.kept_outer).push_back({g.dim, g.stride});
  }
  for (const Group& g : groups) (g.reduced ? plan.reduce_count : plan.output_count) *= g.dim;
  return plan;
}

int64_t group_offset(const std::vector<ReduceGroup>& groups, int64_t linear) {
  int64_t offset = 0;
  for (size_t k = groups.size(); k-- > 0;) {
    offset += (linear % groups[k].dim) * groups[k].stride;
    linear /= groups[k].dim;
  }
  return offset;
}

void maybe_parallel_for(Parallelism& parallelism, int64_t count, int64_t work,
                        const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  constexpr int64_t kMinParallelWork = 32768;
  if (count == 1 || work < kMinParallelWork || parallelism.thread_count() <= 1) {
    fn(0, count);
    return;
  }
  parallelism.parallel_for(count, fn);
}

void infer_rank_only(InferenceContext& context, DType dtype, size_t rank) {
  context.set_output_type(0, TypeInfo::tensor(dtype, std::vector<Dim>(rank)));
}

}  // namespace tessera
