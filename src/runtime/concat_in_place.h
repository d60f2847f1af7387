// Concat in place: where each input of a Concat lies inside its output, so that the nodes producing the inputs
// can write them there and the Concat copies nothing (ExecutionPlan::plan_concat_in_place). An input is one
// contiguous block of the output only when every dimension before the axis is 1 (one image, a channel Concat),
// and it is written in place only where its block starts 64-byte aligned, as a fresh buffer would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "base/dtype.h"

namespace tessera {

// A Concat's output and inputs for one set of input shapes.
struct ConcatLayout {
  static constexpr size_t kNotInPlace = std::numeric_limits<size_t>::max();
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;                      // the output's
  std::vector<std::vector<int64_t>> input_shapes;  // every input's
  std::vector<size_t> offsets;                     // per input: its byte offset in the output, or kNotInPlace
};

// The layout of a Concat along `axis` (the attribute: negative counts from the end) of inputs of `dtype` and
// these shapes, where the inputs marked in `candidates` may lie in place; nullptr when none can (dimensions
// before the axis other than 1, an axis out of range, shapes that do not concatenate, strings, no aligned
// candidate with elements).
std::shared_ptr<const ConcatLayout> concat_layout(DType dtype, const std::vector<std::vector<int64_t>>& input_shapes,
                                                  int64_t axis, const std::vector<bool>& candidates);

// True when `layout` is for exactly these dtype and input shapes.
bool concat_layout_matches(const ConcatLayout& layout, DType dtype,
                           const std::vector<std::vector<int64_t>>& input_shapes);

// The layout a Concat last ran with, shared by the runs of one plan (which may be concurrent).
class ConcatLayoutCache {
 public:
  std::shared_ptr<const ConcatLayout> get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return layout_;
  }
  void set(std::shared_ptr<const ConcatLayout> layout) {
    std::lock_guard<std::mutex> lock(mutex_);
    layout_ = std::move(layout);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ConcatLayout> layout_;
};

}  // namespace tessera
