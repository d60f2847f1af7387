// Sequence operators: SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceAt, SequenceErase,
// SequenceLength, SplitToSequence, ConcatFromSequence.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/controlflow/slicing.h"
#include "ops/registry.h"

namespace tessera {
namespace {

const RuntimeValue& sequence_input(KernelContext& ctx, size_t i) {
  const RuntimeValue& v = ctx.input_value(i);
  check_argument(v.is_sequence(), "input ", i, " must be a sequence of tensors, got ", v.description());
  return v;
}

// Reads a scalar position and maps it into [0, size] (inserting) or [0, size) (reading).
int64_t read_position(const Tensor& position, int64_t size, bool inserting) {
  check_argument(position.element_count() == 1, "position must be a scalar, got ", tensor_text(position));
  int64_t p = tensor_to_int64s(position)[0];
  const int64_t limit = inserting ? size : size - 1;
  check_argument(p >= -size && p <= limit, "position ", p, " is out of range for a sequence of length ", size);
  return p < 0 ? p + size : p;
}

std::unique_ptr<Kernel> make_sequence_empty(const KernelInfo& info) {
  const DType dtype = static_cast<DType>(info.node.attr_int("dtype", static_cast<int64_t>(DType::kFloat)));
  return make_kernel([dtype](KernelContext& ctx) { ctx.set_output(0, RuntimeValue::sequence(dtype, {})); });
}

std::unique_ptr<Kernel> make_sequence_construct(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    std::vector<Tensor> tensors;
    for (size_t i = 0; i < ctx.input_count(); ++i) {
      tensors.push_back(ctx.input(i));
      check_argument(tensors.back().dtype() == tensors[0].dtype(), "all inputs must share one dtype");
    }
    const DType dtype = tensors.empty() ? DType::kFloat : tensors[0].dtype();
    ctx.set_output(0, RuntimeValue::sequence(dtype, std::move(tensors)));
  });
}

std::unique_ptr<Kernel> make_sequence_insert(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue& seq = sequence_input(ctx, 0);
    std::vector<Tensor> tensors = seq.sequence_tensors();
    const Tensor& t = ctx.input(1);
    check_argument(seq.element_type() == DType::kUndefined || t.dtype() == seq.element_type(), "cannot insert ",
                   tensor_text(t), " into a sequence of ", dtype_name(seq.element_type()));
    const int64_t size = static_cast<int64_t>(tensors.size());
    const int64_t at = ctx.has_input(2) ? read_position(ctx.input(2), size, true) : size;
    tensors.insert(tensors.begin() + at, t);
    ctx.set_output(0, RuntimeValue::sequence(t.dtype(), std::move(tensors)));
  });
}

std::unique_ptr<Kernel> make_sequence_at(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue& seq = sequence_input(ctx, 0);
    const int64_t size = static_cast<int64_t>(seq.sequence_tensors().size());
    ctx.set_output(0, seq.sequence_tensors()[read_position(ctx.input(1), size, false)]);
  });
}

std::unique_ptr<Kernel> make_sequence_erase(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue& seq = sequence_input(ctx, 0);
    std::vector<Tensor> tensors = seq.sequence_tensors();
    const int64_t size = static_cast<int64_t>(tensors.size());
    check_argument(size > 0, "cannot erase from an empty sequence");
    const int64_t at = ctx.has_input(1) ? read_position(ctx.input(1), size, false) : size - 1;
    tensors.erase(tensors.begin() + at);
    ctx.set_output(0, RuntimeValue::sequence(seq.element_type(), std::move(tensors)));
  });
}

std::unique_ptr<Kernel> make_sequence_length(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue& seq = sequence_input(ctx, 0);
    ctx.set_output(0, Tensor::scalar<int64_t>(DType::kInt64, static_cast<int64_t>(seq.sequence_tensors().size())));
  });
}

// Copies elements [start, start + length) along `axis`.
Tensor narrow(const Tensor& t, int64_t axis, int64_t start, int64_t length) {
  std::vector<int64_t> shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t n = shape[axis];
  shape[axis] = length;
  Tensor out(t.dtype(), shape);
  for (int64_t o = 0; o < outer; ++o) copy_elements(t, (o * n + start) * inner, out, o * length * inner, length * inner);
  return out;
}

std::unique_ptr<Kernel> make_split_to_sequence(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  const bool keepdims = info.node.attr_int("keepdims", 1) != 0;
  return make_kernel([axis_attr, keepdims](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t axis = normalize_axis(axis_attr, static_cast<int64_t>(x.rank()));
    const int64_t n = x.dim(axis);
    std::vector<Tensor> parts;
    if (!ctx.has_input(1)) {
      for (int64_t i = 0; i < n; ++i) {
        Tensor part = narrow(x, axis, i, 1);
        if (!keepdims) {
          std::vector<int64_t> s = part.shape();
          s.erase(s.begin() + axis);
          part = part.reshaped(s);
        }
        parts.push_back(part);
      }
    } else {
      const Tensor& split = ctx.input(1);
      std::vector<int64_t> sizes = tensor_to_int64s(split);
      if (split.rank() == 0) {
        const int64_t chunk = sizes[0];
        check_argument(chunk > 0, "split must be positive, got ", chunk);
        sizes.clear();
        for (int64_t left = n; left > 0; left -= chunk) sizes.push_back(std::min(chunk, left));
      }
      int64_t start = 0;
      for (int64_t s : sizes) {
        check_argument(s >= 0 && start + s <= n, "split sizes exceed dimension ", n, " of ", tensor_text(x));
        parts.push_back(narrow(x, axis, start, s));
        start += s;
      }
      check_argument(start == n, "split sizes sum to ", start, ", dimension is ", n);
    }
    ctx.set_output(0, RuntimeValue::sequence(x.dtype(), std::move(parts)));
  });
}

std::unique_ptr<Kernel> make_concat_from_sequence(const KernelInfo& info) {
  const int64_t axis_attr = info.node.required_attribute("axis").i;
  const bool new_axis = info.node.attr_int("new_axis", 0) != 0;
  return make_kernel([axis_attr, new_axis](KernelContext& ctx) {
    const RuntimeValue& seq = sequence_input(ctx, 0);
    const auto& tensors = seq.sequence_tensors();
    check_argument(!tensors.empty(), "cannot concatenate an empty sequence");
    const int64_t rank = static_cast<int64_t>(tensors[0].rank());
    if (new_axis) {
      ctx.set_output(0, stack_slices(tensors, normalize_axis(axis_attr, rank + 1), seq.element_type(), {}));
      return;
    }
    const int64_t axis = normalize_axis(axis_attr, rank);
    std::vector<int64_t> shape = tensors[0].shape();
    int64_t total = 0;
    for (const Tensor& t : tensors) {
      check_argument(t.rank() == tensors[0].rank(), "cannot concatenate ", tensor_text(t), " with ",
                     tensor_text(tensors[0]));
      total += t.dim(axis);
    }
    shape[axis] = total;
    Tensor out(tensors[0].dtype(), shape);
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= shape[i];
    for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
    for (int64_t o = 0; o < outer; ++o) {
      int64_t offset = o * total * inner;
      for (const Tensor& t : tensors) {
        copy_elements(t, o * t.dim(axis) * inner, out, offset, t.dim(axis) * inner);
        offset += t.dim(axis) * inner;
      }
    }
    ctx.set_output(0, out);
  });
}

std::unique_ptr<Kernel> make_sequence_map(const KernelInfo& info) {
  const auto body_graph = info.node.attr_graph("body");
  check_model(body_graph != nullptr, info.node.label(), ": SequenceMap needs a body graph");
  std::shared_ptr<CompiledSubgraph> body = info.compile_subgraph(*body_graph);
  return make_kernel([body](KernelContext& ctx) {
    const size_t length = sequence_input(ctx, 0).sequence_tensors().size();
    std::vector<std::vector<Tensor>> outputs(ctx.output_count());
    for (size_t i = 0; i < length; ++i) {
      ctx.guard().check(ctx.node());
      std::vector<RuntimeValue> inputs;
      for (size_t k = 0; k < ctx.input_count(); ++k) {
        const RuntimeValue& v = ctx.input_value(k);
        if (v.is_sequence()) {
          check_argument(v.sequence_tensors().size() == length, "input sequences differ in length");
          inputs.emplace_back(v.sequence_tensors()[i]);
        } else {
          inputs.push_back(v);
        }
      }
      std::vector<RuntimeValue> result = body->run(inputs, ctx.outer_scope(), ctx.parallelism(), ctx.guard());
      for (size_t k = 0; k < result.size() && k < outputs.size(); ++k) outputs[k].push_back(result[k].tensor());
    }
    for (size_t k = 0; k < outputs.size(); ++k) {
      const DType dtype = outputs[k].empty() ? DType::kFloat : outputs[k][0].dtype();
      ctx.set_output(k, RuntimeValue::sequence(dtype, std::move(outputs[k])));
    }
  });
}

const RegisterOp kSequenceEmpty{{.op_type = "SequenceEmpty", .since_version = 11, .factory = make_sequence_empty}};
const RegisterOp kSequenceConstruct{{.op_type = "SequenceConstruct", .since_version = 11, .factory = make_sequence_construct}};
const RegisterOp kSequenceInsert{{.op_type = "SequenceInsert", .since_version = 11, .factory = make_sequence_insert}};
const RegisterOp kSequenceAt{{.op_type = "SequenceAt", .since_version = 11, .factory = make_sequence_at}};
const RegisterOp kSequenceErase{{.op_type = "SequenceErase", .since_version = 11, .factory = make_sequence_erase}};
const RegisterOp kSequenceLength{{.op_type = "SequenceLength", .since_version = 11, .factory = make_sequence_length}};
const RegisterOp kSplitToSequence{{.op_type = "SplitToSequence", .since_version = 11, .factory = make_split_to_sequence}};
const RegisterOp kConcatFromSequence{{.op_type = "ConcatFromSequence", .since_version = 11, .factory = make_concat_from_sequence}};
const RegisterOp kSequenceMap{{.op_type = "SequenceMap", .since_version = 17, .factory = make_sequence_map}};

}  // namespace
}  // namespace tessera
