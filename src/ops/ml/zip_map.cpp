// ai.onnx.ml ZipMap (opset 1): each row of class scores becomes a map from class label to score, the form
// skl2onnx and onnxmltools give a classifier's probabilities by default.
#include <climits>
#include <memory>
#include <numeric>

#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

// The labels in map order (ascending, a repeated label kept once) and, for each, the score column it takes:
// the last column carrying that label, as assigning into ONNX Runtime's std::map leaves it.
struct ZipLayout {
  Tensor keys;
  std::vector<int64_t> columns;
  int64_t class_count = 0;
};

ZipLayout read_layout(const Node& node) {
  const std::vector<int64_t> int_labels = node.attr_ints("classlabels_int64s");
  const std::vector<std::string> string_labels = node.attr_strings("classlabels_strings");
  check_model(int_labels.empty() != string_labels.empty(), node.label(),
              ": exactly one of 'classlabels_int64s' and 'classlabels_strings' must be set");
  const Tensor labels = int_labels.empty() ? Tensor::from_vector(DType::kString, string_labels)
                                           : Tensor::from_vector(DType::kInt64, int_labels);
  std::vector<int64_t> positions(static_cast<size_t>(labels.element_count()));
  std::iota(positions.begin(), positions.end(), 0);
  MapValue order = MapValue::from_pairs(labels, Tensor::from_vector(DType::kInt64, positions));
  const int64_t* columns = order.values.data<int64_t>();
  return ZipLayout{order.keys, std::vector<int64_t>(columns, columns + order.size()), labels.element_count()};
}

std::unique_ptr<Kernel> make_zip_map(const KernelInfo& info) {
  auto layout = std::make_shared<const ZipLayout>(read_layout(info.node));
  return make_kernel([layout](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kFloat, "input 'X' ", x.description(), " must hold float");
    check_argument(x.rank() == 1 || x.rank() == 2, "input 'X' ", x.description(), " must be 1-D or 2-D");
    const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
    const int64_t columns = x.dim(x.rank() - 1);
    check_argument(columns == layout->class_count, "input 'X' ", x.description(), " has ", columns,
                   " scores per row but the node has ", layout->class_count, " class labels");
    std::vector<MapValue> maps;
    maps.reserve(static_cast<size_t>(rows));
    const float* scores = x.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      Tensor values(DType::kFloat, {static_cast<int64_t>(layout->columns.size())});
      float* out = values.data<float>();
      for (size_t k = 0; k < layout->columns.size(); ++k) out[k] = scores[r * columns + layout->columns[k]];
      // Each map gets its own keys: an output never shares memory with the kernel, whose keys the caller could
      // otherwise overwrite.
      maps.push_back(MapValue{layout->keys.clone(), std::move(values)});
    }
    ctx.set_output(0, RuntimeValue::map_sequence(layout->keys.dtype(), DType::kFloat, std::move(maps)));
  });
}

void infer_zip_map(InferenceContext& ctx) {
  const DType key = ctx.node().attr_strings("classlabels_strings").empty() ? DType::kInt64 : DType::kString;
  ctx.set_output_type(0, TypeInfo::sequence_of(TypeInfo::map_of(key, TypeInfo::tensor(DType::kFloat))));
}

const RegisterOp kZipMap{ml_registration("ZipMap", 1, INT_MAX, make_zip_map, infer_zip_map)};

}  // namespace
}  // namespace tessera
