// Operators that rearrange blocks of elements: DepthToSpace, SpaceToDepth (strided copies of 6-D views) and
// ReverseSequence.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

int64_t read_blocksize(const Node& node) {
  const int64_t bs = node.required_attribute("blocksize").i;
  check_model(bs > 0, node.label(), ": blocksize must be positive, got ", bs);
  return bs;
}

std::unique_ptr<Kernel> make_depth_to_space(const KernelInfo& info) {
  const int64_t bs = read_blocksize(info.node);
  const std::string mode = info.opset >= 11 ? info.node.attr_string("mode", "DCR") : "DCR";
  check_model(mode == "DCR" || mode == "CRD", info.node.label(), ": mode must be DCR or CRD, got '", mode, "'");
  const bool crd = mode == "CRD";
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() == 4, "DepthToSpace: input must be 4-D, got ", tensor_text(x));
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    check_argument(c % (bs * bs) == 0, "DepthToSpace: channels of ", tensor_text(x),
                   " are not divisible by blocksize^2 = ", bs * bs);
    const int64_t oc = c / (bs * bs);
    Tensor& y = ctx.allocate_output(0, x.dtype(), {n, oc, h * bs, w * bs});
    // Output viewed as [n, oc, h, b1, w, b2]; the input channel is b1*bs*oc + b2*oc + oc_i (DCR) or
    // oc_i*bs*bs + b1*bs + b2 (CRD).
    const int64_t hw = h * w;
    const std::vector<int64_t> strides = crd ? std::vector<int64_t>{c * hw, bs * bs * hw, w, bs * hw, 1, hw}
                                             : std::vector<int64_t>{c * hw, hw, w, bs * oc * hw, 1, oc * hw};
    copy_strided_to_contiguous(x.dtype(), y.raw_data(), x.raw_data(), strides, {n, oc, h, bs, w, bs},
                               ctx.parallelism());
  });
}

void infer_depth_to_space(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr || x->shape->size() != 4) return;
  const int64_t bs = read_blocksize(ctx.node());
  const auto& s = *x->shape;
  auto scaled = [](const Dim& d, int64_t mul, int64_t div) {
    return d.is_known() ? Dim::known(d.value * mul / div) : Dim{};
  };
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{s[0], scaled(s[1], 1, bs * bs),
                                                                         scaled(s[2], bs, 1), scaled(s[3], bs, 1)}));
}

const RegisterOp kDepthToSpace1{{.domain = "",
                                 .op_type = "DepthToSpace",
                                 .since_version = 1,
                                 .last_version = 10,
                                 .factory = make_depth_to_space,
                                 .infer = infer_depth_to_space}};
const RegisterOp kDepthToSpace11{{.domain = "",
                                  .op_type = "DepthToSpace",
                                  .since_version = 11,
                                  .last_version = INT_MAX,
                                  .factory = make_depth_to_space,
                                  .infer = infer_depth_to_space}};

std::unique_ptr<Kernel> make_space_to_depth(const KernelInfo& info) {
  const int64_t bs = read_blocksize(info.node);
  const std::string mode = info.opset >= 28 ? info.node.attr_string("mode", "DCR") : "DCR";
  check_model(mode == "DCR" || mode == "CRD", info.node.label(), ": mode must be DCR or CRD, got '", mode, "'");
  const bool crd = mode == "CRD";
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() == 4, "SpaceToDepth: input must be 4-D, got ", tensor_text(x));
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    check_argument(h % bs == 0 && w % bs == 0, "SpaceToDepth: spatial dims of ", tensor_text(x),
                   " are not divisible by blocksize ", bs);
    Tensor& y = ctx.allocate_output(0, x.dtype(), {n, c * bs * bs, h / bs, w / bs});
    // Output viewed as [n, b1, b2, c, h', w'] (DCR) or [n, c, b1, b2, h', w'] (CRD) reads input
    // (n, c, h'*bs + b1, w'*bs + b2).
    const std::vector<int64_t> strides = crd ? std::vector<int64_t>{c * h * w, h * w, w, 1, bs * w, bs}
                                             : std::vector<int64_t>{c * h * w, w, 1, h * w, bs * w, bs};
    const std::vector<int64_t> view =
        crd ? std::vector<int64_t>{n, c, bs, bs, h / bs, w / bs} : std::vector<int64_t>{n, bs, bs, c, h / bs, w / bs};
    copy_strided_to_contiguous(x.dtype(), y.raw_data(), x.raw_data(), strides, view, ctx.parallelism());
  });
}

void infer_space_to_depth(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr || x->shape->size() != 4) return;
  const int64_t bs = read_blocksize(ctx.node());
  const auto& s = *x->shape;
  auto scaled = [](const Dim& d, int64_t mul, int64_t div) {
    return d.is_known() ? Dim::known(d.value * mul / div) : Dim{};
  };
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{s[0], scaled(s[1], bs * bs, 1),
                                                                         scaled(s[2], 1, bs), scaled(s[3], 1, bs)}));
}

const RegisterOp kSpaceToDepth1{{.domain = "",
                                 .op_type = "SpaceToDepth",
                                 .since_version = 1,
                                 .last_version = 27,
                                 .factory = make_space_to_depth,
                                 .infer = infer_space_to_depth}};
const RegisterOp kSpaceToDepth28{{.domain = "",
                                  .op_type = "SpaceToDepth",
                                  .since_version = 28,
                                  .last_version = INT_MAX,
                                  .factory = make_space_to_depth,
                                  .infer = infer_space_to_depth}};

std::unique_ptr<Kernel> make_reverse_sequence(const KernelInfo& info) {
  const int64_t batch_axis = info.node.attr_int("batch_axis", 1);
  const int64_t time_axis = info.node.attr_int("time_axis", 0);
  check_model((batch_axis == 0 || batch_axis == 1) && (time_axis == 0 || time_axis == 1) && batch_axis != time_axis,
              info.node.label(), ": batch_axis and time_axis must be 0 and 1 in some order");
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& lens_t = ctx.input(1);
    check_argument(x.rank() >= 2, "ReverseSequence: input must have rank >= 2, got ", tensor_text(x));
    const int64_t batch = x.dim(static_cast<size_t>(batch_axis));
    const int64_t time = x.dim(static_cast<size_t>(time_axis));
    const std::vector<int64_t> lens = read_ints(lens_t, "ReverseSequence sequence_lens");
    check_argument(lens_t.rank() == 1 && static_cast<int64_t>(lens.size()) == batch, "ReverseSequence: sequence_lens ",
                   tensor_text(lens_t), " must have one entry per batch of ", tensor_text(x));
    for (int64_t len : lens) {
      check_argument(len >= 0 && len <= time, "ReverseSequence: sequence length ", len, " is outside [0, ", time,
                     "] for input ", tensor_text(x));
    }
    Tensor out = x.clone();
    const std::vector<int64_t> strides = contiguous_strides(x.shape());
    const int64_t inner = product(x.shape(), 2, x.rank());
    const int64_t bstride = strides[static_cast<size_t>(batch_axis)];
    const int64_t tstride = strides[static_cast<size_t>(time_axis)];
    visit_element_bytes(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = x.data<U>();
      U* dst = out.data<U>();
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t len = lens[static_cast<size_t>(b)];
        for (int64_t t = 0; t < len; ++t) {
          std::copy_n(src + b * bstride + (len - 1 - t) * tstride, inner, dst + b * bstride + t * tstride);
        }
      }
    });
    ctx.set_output(0, std::move(out));
  });
}

const RegisterOp kReverseSequence{{.domain = "",
                                   .op_type = "ReverseSequence",
                                   .since_version = 10,
                                   .last_version = INT_MAX,
                                   .factory = make_reverse_sequence,
                                   .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera
