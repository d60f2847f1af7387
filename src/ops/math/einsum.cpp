// Einsum (opset 12): general Einstein summation. Repeated labels within a term take diagonals, labels needed
// by no later operand nor the output are summed out early, and each pair of operands is contracted as a
// batched matrix multiply [batch, M, K] x [batch, K, N]. Ellipses broadcast NumPy-style (right-aligned,
// size-1 dims stretch). Floats compute in float (double for double), integers in wrapping 64-bit arithmetic.
#include <algorithm>
#include <climits>
#include <string>

#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

constexpr int kEllipsisToken = -1;
constexpr int kLetterCount = 52;  // 'A'..'Z' then 'a'..'z': ids in ASCII order
constexpr int kMaxLabels = 128;   // letters plus ellipsis dims

// The parsed equation: per input term and for the output, letter ids and kEllipsisToken.
struct EinsumEquation {
  std::vector<std::vector<int>> terms;
  std::vector<int> output;
  bool explicit_output = false;
};

int letter_id(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -2;
}

std::vector<int> parse_term(const std::string& term, const std::string& equation) {
  std::vector<int> tokens;
  bool has_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '.') {
      check_model(term.compare(i, 3, "...") == 0, "Einsum equation '", equation, "': '.' must be part of '...'");
      check_model(!has_ellipsis, "Einsum equation '", equation, "': a term has more than one ellipsis");
      has_ellipsis = true;
      tokens.push_back(kEllipsisToken);
      i += 2;
      continue;
    }
    const int id = letter_id(term[i]);
    check_model(id >= 0, "Einsum equation '", equation, "': unexpected character '", term[i], "'");
    tokens.push_back(id);
  }
  return tokens;
}

EinsumEquation parse_equation(const std::string& raw) {
  std::string equation;
  for (char c : raw) {
    if (c != ' ') equation += c;
  }
  EinsumEquation eq;
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  if (arrow != std::string::npos) {
    eq.explicit_output = true;
    eq.output = parse_term(equation.substr(arrow + 2), raw);
  }
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    eq.terms.push_back(parse_term(lhs.substr(start, comma - start), raw));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return eq;
}

// A dense operand whose axes carry label ids.
template <typename C>
struct Labeled {
  std::vector<C> data;
  std::vector<int64_t> dims;
  std::vector<int> labels;
};

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Gathers src into dst of dims `out_dims`, reading axis k of the output with stride `strides[k]` of src.
template <typename C>
void strided_gather(const C* src, const std::vector<int64_t>& out_dims, const std::vector<int64_t>& strides, C* dst) {
  std::vector<ReduceGroup> groups;
  for (size_t k = 0; k < out_dims.size(); ++k) groups.push_back({out_dims[k], strides[k]});
  int64_t out = 0;
  for_each_group_offset(groups, [&](int64_t offset) { dst[out++] = src[offset]; });
}

// Takes the diagonal over repeated labels, so every label appears once.
template <typename C>
Labeled<C> take_diagonals(Labeled<C> t) {
  std::vector<int> labels;
  std::vector<int64_t> dims, strides;
  const std::vector<int64_t> src_strides = contiguous_strides(t.dims);
  for (size_t k = 0; k < t.labels.size(); ++k) {
    const auto it = std::find(labels.begin(), labels.end(), t.labels[k]);
    if (it == labels.end()) {
      labels.push_back(t.labels[k]);
      dims.push_back(t.dims[k]);
      strides.push_back(src_strides[k]);
    } else {
      const auto pos = static_cast<size_t>(it - labels.begin());
      check_argument(dims[pos] == t.dims[k], "Einsum: a repeated label spans dims of different sizes (", dims[pos],
                     " and ", t.dims[k], ")");
      strides[pos] += src_strides[k];
    }
  }
  if (labels.size() == t.labels.size()) return t;
  Labeled<C> out{std::vector<C>(static_cast<size_t>(shape_element_count(dims))), dims, labels};
  strided_gather(t.data.data(), dims, strides, out.data.data());
  return out;
}

// Reorders t's axes to `order` (a permutation of a subset-free relabelling of t.labels); a label whose dim is
// 1 in t but `target[label]` > 1 is broadcast. Returns t itself when nothing moves.
template <typename C>
Labeled<C> permute(Labeled<C> t, const std::vector<int>& order, const std::vector<int64_t>& target) {
  std::vector<int64_t> dims, strides;
  const std::vector<int64_t> src_strides = contiguous_strides(t.dims);
  bool identity = order == t.labels;
  for (int label : order) {
    const auto k = static_cast<size_t>(std::find(t.labels.begin(), t.labels.end(), label) - t.labels.begin());
    const int64_t size = target[static_cast<size_t>(label)];
    const bool broadcast = t.dims[k] != size;
    identity = identity && !broadcast;
    dims.push_back(size);
    strides.push_back(broadcast ? 0 : src_strides[k]);
  }
  if (identity) return t;
  Labeled<C> out{std::vector<C>(static_cast<size_t>(shape_element_count(dims))), dims, order};
  strided_gather(t.data.data(), dims, strides, out.data.data());
  return out;
}

// Sums out every label of t not in `keep`.
template <typename C>
Labeled<C> sum_out(Labeled<C> t, const std::vector<int>& keep) {
  std::vector<int> kept, summed;
  for (int label : t.labels) (contains(keep, label) ? kept : summed).push_back(label);
  if (summed.empty()) return t;
  std::vector<int64_t> own(kMaxLabels, 1);
  for (size_t k = 0; k < t.labels.size(); ++k) own[static_cast<size_t>(t.labels[k])] = t.dims[k];
  std::vector<int> order = kept;
  order.insert(order.end(), summed.begin(), summed.end());
  Labeled<C> p = permute(std::move(t), order, own);
  int64_t rows = 1, row_length = 1;
  std::vector<int64_t> dims;
  for (size_t k = 0; k < order.size(); ++k) {
    if (k < kept.size()) {
      rows *= p.dims[k];
      dims.push_back(p.dims[k]);
    } else {
      row_length *= p.dims[k];
    }
  }
  Labeled<C> out{std::vector<C>(static_cast<size_t>(rows)), dims, kept};
  for (int64_t r = 0; r < rows; ++r) {
    C sum{};
    const C* row = p.data.data() + r * row_length;
    for (int64_t i = 0; i < row_length; ++i) sum += row[i];
    out.data[static_cast<size_t>(r)] = sum;
  }
  return out;
}

// c[b] = a[b] (m x k) * b[b] (k x n), for every batch b; c is zero-filled on entry. Floats go through the
// packed GEMM; other types through a plain loop that vectorizes along n.
template <typename C>
void batched_matmul(const C* a, const C* b, C* c, int64_t batch, int64_t m, int64_t k, int64_t n,
                    Parallelism& parallelism) {
  if constexpr (std::is_same_v<C, float>) {
    if (k == 0 || m == 0 || n == 0) return;
    // Many small products: one thread per product; few large ones: the GEMM splits each over the pool.
    if (batch >= parallelism.thread_count() && m * n * k < (int64_t{1} << 18)) {
      maybe_parallel_for(parallelism, batch, batch * m * n * k, [&](int64_t begin, int64_t end) {
        for (int64_t bi = begin; bi < end; ++bi) {
          gemm_f32(false, false, m, n, k, 1.0f, a + bi * m * k, k, b + bi * k * n, n, 0.0f, c + bi * m * n, n, nullptr);
        }
      });
    } else {
      for (int64_t bi = 0; bi < batch; ++bi) {
        gemm_f32(false, false, m, n, k, 1.0f, a + bi * m * k, k, b + bi * k * n, n, 0.0f, c + bi * m * n, n,
                 &parallelism);
      }
    }
    return;
  }
  maybe_parallel_for(parallelism, batch * m, batch * m * k * n, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t bi = row / m;
      const C* a_row = a + row * k;
      const C* b_mat = b + bi * k * n;
      C* c_row = c + row * n;
      for (int64_t kk = 0; kk < k; ++kk) {
        const C av = a_row[kk];
        const C* b_row = b_mat + kk * n;
        for (int64_t j = 0; j < n; ++j) c_row[j] += av * b_row[j];
      }
    }
  });
}

// Contracts a and b, keeping the labels in `keep` (the output's and later operands').
template <typename C>
Labeled<C> contract(Labeled<C> a, Labeled<C> b, const std::vector<int>& keep, const std::vector<int64_t>& sizes,
                    Parallelism& parallelism) {
  std::vector<int> keep_a = keep, keep_b = keep;
  keep_a.insert(keep_a.end(), b.labels.begin(), b.labels.end());
  keep_b.insert(keep_b.end(), a.labels.begin(), a.labels.end());
  a = sum_out(std::move(a), keep_a);
  b = sum_out(std::move(b), keep_b);
  std::vector<int> batch, contracted, a_only, b_only;
  for (int label : a.labels) {
    if (!contains(b.labels, label))
      a_only.push_back(label);
    else
      (contains(keep, label) ? batch : contracted).push_back(label);
  }
  for (int label : b.labels) {
    if (!contains(a.labels, label)) b_only.push_back(label);
  }
  auto product = [&](const std::vector<int>& labels) {
    int64_t p = 1;
    for (int label : labels) p *= sizes[static_cast<size_t>(label)];
    return p;
  };
  std::vector<int> a_order = batch, b_order = batch;
  a_order.insert(a_order.end(), a_only.begin(), a_only.end());
  a_order.insert(a_order.end(), contracted.begin(), contracted.end());
  b_order.insert(b_order.end(), contracted.begin(), contracted.end());
  b_order.insert(b_order.end(), b_only.begin(), b_only.end());
  const Labeled<C> pa = permute(std::move(a), a_order, sizes);
  const Labeled<C> pb = permute(std::move(b), b_order, sizes);
  Labeled<C> out;
  out.labels = batch;
  out.labels.insert(out.labels.end(), a_only.begin(), a_only.end());
  out.labels.insert(out.labels.end(), b_only.begin(), b_only.end());
  for (int label : out.labels) out.dims.push_back(sizes[static_cast<size_t>(label)]);
  out.data.assign(static_cast<size_t>(shape_element_count(out.dims)), C{});
  batched_matmul(pa.data.data(), pb.data.data(), out.data.data(), product(batch), product(a_only), product(contracted),
                 product(b_only), parallelism);
  return out;
}

// The element type Einsum computes in: float (narrow floats too), double, or wrapping uint64 for integers.
template <typename T>
using EinsumCompute =
    std::conditional_t<std::is_same_v<T, double>, double,
                       std::conditional_t<std::is_floating_point_v<T> || kIsNarrowFloat<T>, float, uint64_t>>;

template <typename C, typename T>
C einsum_in(const T& v) {
  if constexpr (std::is_same_v<C, uint64_t>) {
    if constexpr (std::is_signed_v<T>)
      return static_cast<uint64_t>(static_cast<int64_t>(v));
    else
      return static_cast<uint64_t>(v);
  } else {
    return to_compute<C>(v);
  }
}

// The label ids per input axis and of the output, with each term's ellipsis expanded against its input's
// rank (ellipsis dims right-aligned across inputs, NumPy-style).
struct ResolvedLabels {
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
};

// `ranks` and `descriptions` (for messages) describe the inputs.
ResolvedLabels resolve_labels(const EinsumEquation& eq, const std::vector<int64_t>& ranks,
                              const std::vector<std::string>& descriptions) {
  ResolvedLabels r;
  std::vector<int64_t> ellipsis_ranks;
  int64_t max_ellipsis = 0;
  for (size_t i = 0; i < ranks.size(); ++i) {
    const auto& term = eq.terms[i];
    const bool has = contains(term, kEllipsisToken);
    const auto letters = static_cast<int64_t>(term.size()) - (has ? 1 : 0);
    check_argument(has ? ranks[i] >= letters : ranks[i] == letters, "Einsum: input ", i, " ", descriptions[i],
                   " does not match its term of ", letters, " labels", has ? " plus an ellipsis" : "");
    ellipsis_ranks.push_back(has ? ranks[i] - letters : 0);
    max_ellipsis = std::max(max_ellipsis, ellipsis_ranks.back());
  }
  check_argument(kLetterCount + max_ellipsis <= kMaxLabels, "Einsum: too many ellipsis dims");
  std::vector<int> occurrences(kMaxLabels, 0);
  for (size_t i = 0; i < ranks.size(); ++i) {
    std::vector<int> labels;
    for (int token : eq.terms[i]) {
      if (token != kEllipsisToken) {
        labels.push_back(token);
        ++occurrences[static_cast<size_t>(token)];
        continue;
      }
      for (int64_t e = 0; e < ellipsis_ranks[i]; ++e) {
        labels.push_back(kLetterCount + static_cast<int>(max_ellipsis - ellipsis_ranks[i] + e));
      }
    }
    r.inputs.push_back(std::move(labels));
  }
  if (eq.explicit_output) {
    for (int token : eq.output) {
      if (token == kEllipsisToken) {
        for (int64_t e = 0; e < max_ellipsis; ++e) r.output.push_back(kLetterCount + static_cast<int>(e));
        continue;
      }
      check_argument(occurrences[static_cast<size_t>(token)] > 0, "Einsum: output label ", token,
                     " appears in no input");
      check_argument(!contains(r.output, token), "Einsum: output label ", token, " appears twice");
      r.output.push_back(token);
    }
  } else {
    for (int64_t e = 0; e < max_ellipsis; ++e) r.output.push_back(kLetterCount + static_cast<int>(e));
    for (int id = 0; id < kLetterCount; ++id) {
      if (occurrences[static_cast<size_t>(id)] == 1) r.output.push_back(id);
    }
  }
  return r;
}

// The size of every label; sizes must agree, except that a size-1 dim broadcasts against the others.
std::vector<int64_t> label_sizes(const ResolvedLabels& r, const std::vector<const Tensor*>& inputs) {
  std::vector<int64_t> sizes(kMaxLabels, 1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (size_t k = 0; k < r.inputs[i].size(); ++k) {
      const auto label = static_cast<size_t>(r.inputs[i][k]);
      const int64_t d = inputs[i]->dim(k);
      if (sizes[label] == 1)
        sizes[label] = d;
      else
        check_argument(d == sizes[label] || d == 1, "Einsum: label ", r.inputs[i][k], " has size ", d, " in input ", i,
                       " ", tensor_text(*inputs[i]), " but ", sizes[label], " elsewhere");
    }
  }
  return sizes;
}

template <typename T>
void einsum_typed(const std::vector<const Tensor*>& inputs, const ResolvedLabels& r, const std::vector<int64_t>& sizes,
                  Tensor& y, Parallelism& parallelism) {
  using C = EinsumCompute<T>;
  std::vector<Labeled<C>> operands;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Labeled<C> t;
    const T* src = inputs[i]->data<T>();
    t.data.resize(static_cast<size_t>(inputs[i]->element_count()));
    for (size_t e = 0; e < t.data.size(); ++e) t.data[e] = einsum_in<C>(src[e]);
    t.dims = inputs[i]->shape();
    t.labels = r.inputs[i];
    operands.push_back(take_diagonals(std::move(t)));
  }
  // Labels needed after operand i: the output's and those of operands after i.
  std::vector<std::vector<int>> needed_after(operands.size(), r.output);
  for (size_t i = operands.size(); i-- > 1;) {
    needed_after[i - 1] = needed_after[i];
    needed_after[i - 1].insert(needed_after[i - 1].end(), operands[i].labels.begin(), operands[i].labels.end());
  }
  Labeled<C> acc = sum_out(std::move(operands[0]), needed_after[0]);
  for (size_t i = 1; i < operands.size(); ++i) {
    acc = contract(std::move(acc), std::move(operands[i]), needed_after[i], sizes, parallelism);
  }
  acc = sum_out(std::move(acc), r.output);
  acc = permute(std::move(acc), r.output, sizes);
  T* out = y.data<T>();
  for (size_t e = 0; e < acc.data.size(); ++e) out[e] = from_compute<T>(acc.data[e]);
}

std::unique_ptr<Kernel> make_einsum(const KernelInfo& info) {
  const std::string equation = info.node.required_attribute("equation").s;
  const EinsumEquation eq = parse_equation(equation);
  check_model(eq.terms.size() == info.node.inputs.size(), info.node.label(), ": equation '", equation, "' has ",
              eq.terms.size(), " terms for ", info.node.inputs.size(), " inputs");
  return make_kernel([eq](KernelContext& ctx) {
    std::vector<const Tensor*> inputs;
    for (size_t i = 0; i < eq.terms.size(); ++i) {
      inputs.push_back(&ctx.input(i));
      check_argument(inputs[i]->dtype() == inputs[0]->dtype(), "Einsum: input ", i, " ", tensor_text(*inputs[i]),
                     " and input 0 ", tensor_text(*inputs[0]), " differ in element type");
    }
    std::vector<int64_t> ranks;
    std::vector<std::string> descriptions;
    for (const Tensor* t : inputs) {
      ranks.push_back(static_cast<int64_t>(t->rank()));
      descriptions.push_back(t->description());
    }
    const ResolvedLabels r = resolve_labels(eq, ranks, descriptions);
    const std::vector<int64_t> sizes = label_sizes(r, inputs);
    std::vector<int64_t> shape;
    for (int label : r.output) shape.push_back(sizes[static_cast<size_t>(label)]);
    Tensor& y = ctx.allocate_output(0, inputs[0]->dtype(), shape);
    visit_dtype(inputs[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsReduceNumeric<T>) {
        einsum_typed<T>(inputs, r, sizes, y, ctx.parallelism());
      } else {
        fail(ErrorCode::kUnsupported, "Einsum: element type ", dtype_name(inputs[0]->dtype()), " is not supported");
      }
    });
  });
}

// Output shape from the input shapes: each label takes its first known dim other than 1 (1 if all are 1).
void infer_einsum(InferenceContext& ctx) {
  const EinsumEquation eq = parse_equation(ctx.node().required_attribute("equation").s);
  if (eq.terms.size() != ctx.input_count()) return;
  std::vector<int64_t> ranks;
  std::vector<std::string> descriptions;
  for (size_t i = 0; i < ctx.input_count(); ++i) {
    const TypeInfo* t = ctx.input_type(i);
    if (t == nullptr || !t->is_tensor() || !t->shape) return;
    ranks.push_back(static_cast<int64_t>(t->shape->size()));
    descriptions.push_back(t->to_string());
  }
  const ResolvedLabels r = resolve_labels(eq, ranks, descriptions);
  std::vector<Dim> dims(kMaxLabels);
  std::vector<bool> seen(kMaxLabels, false);
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    for (size_t k = 0; k < r.inputs[i].size(); ++k) {
      const auto label = static_cast<size_t>(r.inputs[i][k]);
      const Dim& d = (*ctx.input_type(i)->shape)[k];
      const bool replace = !seen[label] || (dims[label].value == 1 && d.value != 1) ||
                           (!dims[label].is_known() && d.is_known() && d.value != 1);
      if (replace) dims[label] = d;
      seen[label] = true;
    }
  }
  std::vector<Dim> shape;
  for (int label : r.output) shape.push_back(dims[static_cast<size_t>(label)]);
  ctx.set_output_type(0, TypeInfo::tensor(ctx.input_type(0)->elem_type, shape));
}

const RegisterOp kEinsum{
    {.op_type = "Einsum", .since_version = 12, .last_version = INT_MAX, .factory = make_einsum, .infer = infer_einsum}};

}  // namespace
}  // namespace tessera
