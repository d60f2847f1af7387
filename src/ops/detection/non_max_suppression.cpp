// NonMaxSuppression, opsets 10 and 11 (11 only clarifies that an IoU equal to the threshold keeps a box):
// per batch and class, boxes above score_threshold are visited by descending score (ties: lower index first)
// and kept unless their IoU with a kept box is strictly greater than iou_threshold, up to
// max_output_boxes_per_class. Boxes are [y1, x1, y2, x2] (any diagonal corners) or, with
// center_point_box = 1, [x_center, y_center, width, height].
#include <algorithm>
#include <array>
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// A box as its extents along the two axes, min <= max.
struct Extent {
  double min0, max0, min1, max1;
  double area() const { return (max0 - min0) * (max1 - min1); }
};

Extent box_extent(const double* box, bool center_point_box) {
  if (center_point_box) {
    const double half_w = box[2] / 2, half_h = box[3] / 2;
    return {box[0] - half_w, box[0] + half_w, box[1] - half_h, box[1] + half_h};
  }
  return {std::min(box[1], box[3]), std::max(box[1], box[3]), std::min(box[0], box[2]), std::max(box[0], box[2])};
}

// True when the IoU of a and b is strictly greater than the threshold; degenerate boxes never suppress.
bool suppresses(const Extent& a, const Extent& b, double iou_threshold) {
  const double lo0 = std::max(a.min0, b.min0), hi0 = std::min(a.max0, b.max0);
  if (hi0 <= lo0) return false;
  const double lo1 = std::max(a.min1, b.min1), hi1 = std::min(a.max1, b.max1);
  if (hi1 <= lo1) return false;
  const double intersection = (hi0 - lo0) * (hi1 - lo1);
  const double area_a = a.area(), area_b = b.area();
  const double union_area = area_a + area_b - intersection;
  if (intersection <= 0 || area_a <= 0 || area_b <= 0 || union_area <= 0) return false;
  return intersection / union_area > iou_threshold;
}

struct Candidate {
  double score;
  int64_t index;
};

struct NmsParameters {
  int64_t max_per_class = 0;
  double iou_threshold = 0;
  bool has_score_threshold = false;
  double score_threshold = 0;
};

NmsParameters read_parameters(const KernelContext& ctx) {
  NmsParameters p;
  if (ctx.has_input(2) && ctx.input(2).element_count() > 0) {
    const Tensor& t = ctx.input(2);
    check_argument(t.dtype() == DType::kInt64 && t.element_count() == 1, "input 'max_output_boxes_per_class' ",
                   tensor_text(t), " must be an int64 scalar");
    p.max_per_class = std::max<int64_t>(t.data<int64_t>()[0], 0);
  }
  if (ctx.has_input(3) && ctx.input(3).element_count() > 0) {
    p.iou_threshold = scalar_to_double(ctx.input(3), "input 'iou_threshold'");
    check_argument(p.iou_threshold >= 0 && p.iou_threshold <= 1, "input 'iou_threshold' = ", p.iou_threshold,
                   " must lie in [0, 1]");
  }
  if (ctx.has_input(4) && ctx.input(4).element_count() > 0) {
    p.has_score_threshold = true;
    p.score_threshold = scalar_to_double(ctx.input(4), "input 'score_threshold'");
  }
  return p;
}

// Appends the selected box indices of one (batch, class) pair.
void select_class(const std::vector<Extent>& extents, const double* scores, const NmsParameters& p,
                  std::vector<int64_t>& selected) {
  std::vector<Candidate> candidates;
  candidates.reserve(extents.size());
  for (size_t i = 0; i < extents.size(); ++i) {
    if (!p.has_score_threshold || scores[i] > p.score_threshold) {
      candidates.push_back({scores[i], static_cast<int64_t>(i)});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  selected.clear();
  for (const Candidate& c : candidates) {
    if (static_cast<int64_t>(selected.size()) >= p.max_per_class) break;
    const Extent& box = extents[static_cast<size_t>(c.index)];
    bool keep = true;
    for (int64_t s : selected) {
      if (suppresses(box, extents[static_cast<size_t>(s)], p.iou_threshold)) {
        keep = false;
        break;
      }
    }
    if (keep) selected.push_back(c.index);
  }
}

std::unique_ptr<Kernel> make_non_max_suppression(const KernelInfo& info) {
  const int64_t center_point_box = info.node.attr_int("center_point_box", 0);
  check_model(center_point_box == 0 || center_point_box == 1, info.node.label(),
              ": attribute 'center_point_box' must be 0 or 1, got ", center_point_box);
  return make_kernel([center_point_box](KernelContext& ctx) {
    const Tensor& boxes = ctx.input(0);
    const Tensor& scores = ctx.input(1);
    check_argument(boxes.rank() == 3 && boxes.dim(2) == 4, "input 'boxes' ", tensor_text(boxes),
                   " must have shape [num_batches, spatial_dimension, 4]");
    check_argument(scores.rank() == 3 && scores.dim(0) == boxes.dim(0) && scores.dim(2) == boxes.dim(1),
                   "input 'scores' ", tensor_text(scores),
                   " must have shape [num_batches, num_classes, spatial_dimension] matching input 'boxes' ",
                   tensor_text(boxes));
    const NmsParameters p = read_parameters(ctx);
    const std::vector<double> box_data = tensor_to_doubles(boxes, "input 'boxes'");
    const std::vector<double> score_data = tensor_to_doubles(scores, "input 'scores'");
    const int64_t batches = boxes.dim(0), classes = scores.dim(1), count = boxes.dim(1);
    std::vector<std::array<int64_t, 3>> result;
    std::vector<Extent> extents(static_cast<size_t>(count));
    std::vector<int64_t> selected;
    for (int64_t b = 0; b < batches && p.max_per_class > 0; ++b) {
      for (int64_t i = 0; i < count; ++i) {
        extents[static_cast<size_t>(i)] =
            box_extent(&box_data[static_cast<size_t>((b * count + i) * 4)], center_point_box == 1);
      }
      for (int64_t c = 0; c < classes; ++c) {
        select_class(extents, &score_data[static_cast<size_t>((b * classes + c) * count)], p, selected);
        for (int64_t s : selected) result.push_back({b, c, s});
      }
    }
    Tensor& out = ctx.allocate_output(0, DType::kInt64, {static_cast<int64_t>(result.size()), 3});
    int64_t* data = out.data<int64_t>();
    for (const auto& row : result) data = std::copy(row.begin(), row.end(), data);
  });
}

void infer_non_max_suppression(InferenceContext& context) {
  context.set_output_type(0, TypeInfo::tensor(DType::kInt64, std::vector<Dim>{Dim{}, Dim::known(3)}));
}

const RegisterOp kNonMaxSuppression{{.op_type = "NonMaxSuppression",
                                     .since_version = 10,
                                     .last_version = INT_MAX,
                                     .factory = make_non_max_suppression,
                                     .infer = infer_non_max_suppression}};

}  // namespace
}  // namespace tessera
