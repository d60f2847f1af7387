#include "runtime/concat_in_place.h"

namespace tessera {

std::shared_ptr<const ConcatLayout> concat_layout(DType dtype, const std::vector<std::vector<int64_t>>& input_shapes,
                                                  int64_t axis, const std::vector<bool>& candidates) {
  // A block must start where a fresh buffer would be aligned (kernels may rely on it for their stores).
  constexpr size_t kBlockAlignment = 64;
  if (input_shapes.size() < 2 || candidates.size() != input_shapes.size() || dtype == DType::kString ||
      dtype == DType::kUndefined) {
    return nullptr;
  }
  const std::vector<int64_t>& first = input_shapes[0];
  const int64_t rank = static_cast<int64_t>(first.size());
  if (rank == 0 || axis < -rank || axis >= rank) return nullptr;
  if (axis < 0) axis += rank;
  auto layout = std::make_shared<ConcatLayout>();
  layout->dtype = dtype;
  layout->shape = first;
  layout->shape[axis] = 0;
  for (const std::vector<int64_t>& s : input_shapes) {
    if (static_cast<int64_t>(s.size()) != rank) return nullptr;
    for (int64_t d = 0; d < rank; ++d) {
      if (s[d] < 0 || (d < axis && s[d] != 1) || (d != axis && s[d] != first[d])) return nullptr;
    }
    layout->shape[axis] += s[axis];
  }
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= first[d];
  const size_t elem = dtype_size(dtype);
  size_t offset = 0;
  bool any = false;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    const size_t bytes = static_cast<size_t>(input_shapes[i][axis] * inner) * elem;
    const bool in_place = candidates[i] && bytes > 0 && offset % kBlockAlignment == 0;
    layout->offsets.push_back(in_place ? offset : ConcatLayout::kNotInPlace);
    any = any || in_place;
    offset += bytes;
  }
  if (!any) return nullptr;
  layout->input_shapes = input_shapes;
  return layout;
}

bool concat_layout_matches(const ConcatLayout& layout, DType dtype,
                           const std::vector<std::vector<int64_t>>& input_shapes) {
  return layout.dtype == dtype && layout.input_shapes == input_shapes;
}

}  // namespace tessera
