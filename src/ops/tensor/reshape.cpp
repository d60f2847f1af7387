// View-like operators that only change a tensor's shape: Reshape, Flatten, Squeeze, Unsqueeze, and Identity.
// Each output shares its input's storage (tensors are immutable once produced).
#include <algorithm>
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

// Resolves a Reshape target: 0 copies the input dim (unless allowzero), one -1 is inferred.
std::vector<int64_t> reshape_target(const std::vector<int64_t>& input, const std::vector<int64_t>& requested,
                                    bool allowzero) {
  std::vector<int64_t> out(requested.size());
  int64_t infer_at = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < requested.size(); ++i) {
    const int64_t s = requested[i];
    if (s == -1) {
      check_argument(infer_at < 0, "Reshape: shape ", shape_text(requested), " has more than one -1");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    check_argument(s >= 0, "Reshape: shape ", shape_text(requested), " has invalid dimension ", s);
    if (s == 0 && !allowzero) {
      check_argument(i < input.size(), "Reshape: shape ", shape_text(requested), " copies dimension ", i,
                     " (0) which input of shape ", shape_text(input), " does not have");
      out[i] = input[i];
    } else {
      out[i] = s;
      has_zero |= s == 0;
    }
    check_argument(out[i] == 0 || known <= INT64_MAX / out[i], "Reshape: shape ", shape_text(requested),
                   " has more elements than int64 can count");
    known *= out[i];
  }
  const int64_t total = shape_element_count(input);
  if (infer_at >= 0) {
    check_argument(!(allowzero && has_zero), "Reshape: with allowzero=1, shape ", shape_text(requested),
                   " cannot hold both 0 and -1");
    check_argument(known != 0 && total % known == 0, "Reshape: cannot reshape input of shape ", shape_text(input),
                   " to ", shape_text(requested));
    out[static_cast<size_t>(infer_at)] = total / known;
  } else {
    check_argument(shape_element_count(out) == total, "Reshape: cannot reshape input of shape ", shape_text(input),
                   " (", total, " elements) to ", shape_text(out));
  }
  return out;
}

std::unique_ptr<Kernel> make_reshape(const KernelInfo& info) {
  const bool allowzero = info.opset >= 14 && info.node.attr_int("allowzero", 0) != 0;
  if (info.opset < 5) {
    const std::vector<int64_t> shape = info.node.attr_ints("shape");
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      ctx.set_output(0, x.reshaped(reshape_target(x.shape(), shape, false)));
    });
  }
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& shape = ctx.input(1);
    check_argument(shape.rank() == 1, "Reshape: shape must be 1-D, got ", tensor_text(shape));
    ctx.set_output(0, x.reshaped(reshape_target(x.shape(), read_ints(shape, "Reshape shape"), allowzero)));
  });
}

void infer_reshape(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  std::optional<std::vector<int64_t>> requested;
  if (ctx.node().opset < 5)
    requested = ctx.node().attr_ints("shape");
  else
    requested = constant_ints(ctx, 1);
  if (!requested) {
    const TypeInfo* s = ranked_input(ctx, 1);
    if (s != nullptr && s->shape->size() == 1 && (*s->shape)[0].is_known()) {
      ctx.set_output_type(0,
                          TypeInfo::tensor(x->elem_type, std::vector<Dim>(static_cast<size_t>((*s->shape)[0].value))));
    } else {
      ctx.set_output_type(0, TypeInfo::tensor(x->elem_type));
    }
    return;
  }
  const bool allowzero = ctx.node().opset >= 14 && ctx.node().attr_int("allowzero", 0) != 0;
  if (x->has_static_shape()) {
    ctx.set_output_type(
        0, TypeInfo::tensor_of_shape(x->elem_type, reshape_target(x->static_shape(), *requested, allowzero)));
    return;
  }
  // With symbolic input dims, -1 is still known when every unknown dim is copied through by a 0 in place:
  // it is then (product of the other input dims) / (product of the other requested dims).
  std::vector<Dim> out;
  int64_t rest_in = 1, rest_out = 1;
  bool rest_known = x->shape.has_value();
  for (size_t i = 0; x->shape && i < x->shape->size(); ++i) {
    const bool copied = i < requested->size() && (*requested)[i] == 0 && !allowzero;
    const Dim& d = (*x->shape)[i];
    if (copied) continue;
    if (!d.is_known())
      rest_known = false;
    else
      rest_in *= d.value;
  }
  for (size_t i = 0; i < requested->size(); ++i) {
    const int64_t s = (*requested)[i];
    if (s == 0 && !allowzero && x->shape && i < x->shape->size()) {
      out.push_back((*x->shape)[i]);
    } else if (s >= 0) {
      out.push_back(Dim::known(s));
      rest_out *= s;
    } else {
      out.push_back(Dim{});
    }
  }
  for (size_t i = 0; i < requested->size(); ++i) {
    if ((*requested)[i] == -1 && rest_known && rest_out > 0 && rest_in % rest_out == 0) {
      out[i] = Dim::known(rest_in / rest_out);
    }
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kReshape1{{.domain = "",
                            .op_type = "Reshape",
                            .since_version = 1,
                            .last_version = 4,
                            .factory = make_reshape,
                            .infer = infer_reshape}};
const RegisterOp kReshape5{{.domain = "",
                            .op_type = "Reshape",
                            .since_version = 5,
                            .last_version = INT_MAX,
                            .factory = make_reshape,
                            .infer = infer_reshape}};

int64_t flatten_axis(int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  check_argument(a >= 0 && a <= rank, "Flatten: axis ", axis, " is out of range for rank ", rank);
  return a;
}

std::unique_ptr<Kernel> make_flatten(const KernelInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 1);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t a = flatten_axis(axis, static_cast<int64_t>(x.rank()));
    const int64_t outer = product(x.shape(), 0, static_cast<size_t>(a));
    const int64_t inner = product(x.shape(), static_cast<size_t>(a), x.rank());
    ctx.set_output(0, x.reshaped({outer, inner}));
  });
}

// Product of symbolic dims: known when all are known.
Dim dim_product(const std::vector<Dim>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) {
    if (!dims[i].is_known()) return Dim{};
    p *= dims[i].value;
  }
  return Dim::known(p);
}

void infer_flatten(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  const int64_t rank = static_cast<int64_t>(x->shape->size());
  const int64_t a = flatten_axis(ctx.node().attr_int("axis", 1), rank);
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{dim_product(*x->shape, 0, a),
                                                                         dim_product(*x->shape, a, rank)}));
}

const RegisterOp kFlatten{{.domain = "",
                           .op_type = "Flatten",
                           .since_version = 1,
                           .last_version = INT_MAX,
                           .factory = make_flatten,
                           .infer = infer_flatten}};

// The shape after squeezing `axes` (every size-1 dim when `axes` is empty).
std::vector<int64_t> squeezed_shape(const std::vector<int64_t>& shape, const std::vector<int64_t>& axes) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> drop(shape.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < shape.size(); ++i) drop[i] = shape[i] == 1;
  } else {
    for (int64_t a : normalize_axes(axes, rank, "Squeeze")) {
      check_argument(shape[a] == 1, "Squeeze: axis ", a, " of input shape ", shape_text(shape), " has size ", shape[a],
                     ", not 1");
      drop[a] = true;
    }
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!drop[i]) out.push_back(shape[i]);
  }
  return out;
}

std::unique_ptr<Kernel> make_squeeze(const KernelInfo& info) {
  const bool from_input = info.opset >= 13;
  const std::vector<int64_t> attr_axes = info.node.attr_ints("axes");
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    // An empty axes list squeezes every size-1 dim, as ONNX's own shape inference reads it.
    if (from_input) {
      const std::vector<int64_t> axes =
          ctx.has_input(1) ? read_ints(ctx.input(1), "Squeeze axes") : std::vector<int64_t>{};
      ctx.set_output(0, x.reshaped(squeezed_shape(x.shape(), axes)));
    } else {
      ctx.set_output(0, x.reshaped(squeezed_shape(x.shape(), attr_axes)));
    }
  });
}

void infer_squeeze(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  std::optional<std::vector<int64_t>> axes;
  if (ctx.node().opset >= 13) {
    if (ctx.node().has_input(1))
      axes = constant_ints(ctx, 1);
    else
      axes = std::vector<int64_t>{};
    if (!axes) return;
  } else {
    axes = ctx.node().attr_ints("axes");
  }
  const auto& in = *x->shape;
  std::vector<bool> drop(in.size(), false);
  if (axes->empty()) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_known()) return;  // cannot tell whether it is squeezed
      drop[i] = in[i].value == 1;
    }
  } else {
    for (int64_t a : normalize_axes(*axes, static_cast<int64_t>(in.size()), "Squeeze")) drop[a] = true;
  }
  std::vector<Dim> out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!drop[i]) out.push_back(in[i]);
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kSqueeze1{{.domain = "",
                            .op_type = "Squeeze",
                            .since_version = 1,
                            .last_version = 12,
                            .factory = make_squeeze,
                            .infer = infer_squeeze}};
const RegisterOp kSqueeze13{{.domain = "",
                             .op_type = "Squeeze",
                             .since_version = 13,
                             .last_version = INT_MAX,
                             .factory = make_squeeze,
                             .infer = infer_squeeze}};

// Which output dims are the inserted ones; throws on bad or repeated axes.
std::vector<bool> unsqueeze_mask(const std::vector<int64_t>& axes, size_t input_rank) {
  const int64_t out_rank = static_cast<int64_t>(input_rank + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : normalize_axes(axes, out_rank, "Unsqueeze")) inserted[a] = true;
  return inserted;
}

template <typename D>
std::vector<D> unsqueezed(const std::vector<D>& shape, const std::vector<int64_t>& axes, D one) {
  const std::vector<bool> inserted = unsqueeze_mask(axes, shape.size());
  std::vector<D> out;
  size_t next = 0;
  for (bool ins : inserted) out.push_back(ins ? one : shape[next++]);
  return out;
}

std::unique_ptr<Kernel> make_unsqueeze(const KernelInfo& info) {
  const bool from_input = info.opset >= 13;
  std::vector<int64_t> attr_axes;
  if (!from_input) attr_axes = info.node.required_attribute("axes").ints;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const std::vector<int64_t> axes = from_input ? read_ints(ctx.input(1), "Unsqueeze axes") : attr_axes;
    ctx.set_output(0, x.reshaped(unsqueezed<int64_t>(x.shape(), axes, 1)));
  });
}

void infer_unsqueeze(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  const std::optional<std::vector<int64_t>> axes =
      ctx.node().opset >= 13 ? constant_ints(ctx, 1) : std::optional(ctx.node().attr_ints("axes"));
  if (!axes) return;
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, unsqueezed<Dim>(*x->shape, *axes, Dim::known(1))));
}

const RegisterOp kUnsqueeze1{{.domain = "",
                              .op_type = "Unsqueeze",
                              .since_version = 1,
                              .last_version = 12,
                              .factory = make_unsqueeze,
                              .infer = infer_unsqueeze}};
const RegisterOp kUnsqueeze13{{.domain = "",
                               .op_type = "Unsqueeze",
                               .since_version = 13,
                               .last_version = INT_MAX,
                               .factory = make_unsqueeze,
                               .infer = infer_unsqueeze}};

// Identity passes any value through unchanged: tensors, sequences (opset 14) and optionals (opset 16),
// including an empty optional.
std::unique_ptr<Kernel> make_identity(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue* v = ctx.input_slot(0);
    check_argument(v != nullptr && (!v->is_none() || v->is_optional()), "Identity: input is missing");
    ctx.set_output(0, *v);
  });
}

const RegisterOp kIdentity{{.domain = "",
                            .op_type = "Identity",
                            .since_version = 1,
                            .last_version = INT_MAX,
                            .factory = make_identity,
                            .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera
