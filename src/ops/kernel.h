// Kernel, KernelInfo and KernelContext: the interface between the runtime and every operator implementation.
//
// A Kernel is created once per node at session creation (KernelInfo: the node, its opset, static input
// types, constant inputs — where weights get pre-packed) and `compute` is called for every run. `compute`
// is const and must be thread-safe: one session serves concurrent runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/parallel.h"
#include "base/runtime_value.h"
#include "ir/graph.h"
#include "ops/run_guard.h"

namespace tessera {

// Looks up a value visible from the running graph by name (for subgraphs reading outer-scope values);
// returns nullptr when the name is unknown.
using ValueLookup = std::function<const RuntimeValue*(const std::string&)>;

// A subgraph (If branch, Loop/Scan body) compiled once at session creation.
class CompiledSubgraph {
 public:
  virtual ~CompiledSubgraph() = default;
  // Runs the subgraph on `inputs` (in the subgraph's input order); outer-scope names resolve through `outer`;
  // `guard` is the enclosing run's (checked before every node). Returns the subgraph's outputs in order.
  virtual std::vector<RuntimeValue> run(const std::vector<RuntimeValue>& inputs, const ValueLookup& outer,
                                        Parallelism& parallelism, const RunGuard& guard) const = 0;
  virtual const Graph& graph() const = 0;
};

// Compiles a subgraph attribute of a node (provided by the runtime).
using SubgraphCompiler = std::function<std::shared_ptr<CompiledSubgraph>(const Graph&)>;

// The arithmetic of float32 MatMul, Gemm and Conv (SessionOptions::matmul_precision). kBFloat16 lets a float32
// MatMul, FusedMatMul, MatMulBias, Gemm or FusedGemm with a constant B (and A not transposed), and a Conv,
// FusedConv or channels-last pointwise NhwcConv with constant weights, group 1, a depth of at least
// conv::kBf16ConvMinDepth and at least conv::kBf16ConvMinChannels output channels, run on the bf16 GEMM: the weights
// rounded to bfloat16 when they are packed, the activations rounded as each panel is packed, float32 accumulation,
// bias, sum input and output, as OpenVINO's inference_precision hint. Faster where the CPU has AMX-BF16 or AVX-512
// BF16; results differ from float32 by the rounding of the operands (about 2^-9 relative per operand).
enum class MatMulPrecision { kFloat32, kBFloat16 };

// What a kernel factory sees at session creation.
struct KernelInfo {
  const Node& node;
  int64_t opset;                               // the node domain's opset version imported by the model
  std::vector<TypeInfo> input_types;           // kUnknown where not inferred; empty TypeInfo for missing inputs
  std::vector<TypeInfo> output_types;
  std::vector<const Tensor*> constant_inputs;  // the value of inputs that are constant initializers, or nullptr
  SubgraphCompiler compile_subgraph;           // compiles node.attr_graph(...) bodies
  // Out: the constant inputs the kernel consumed (see consume_constant_input); filled by the factory.
  mutable std::vector<bool> consumed_constants = {};
  // The session's choice for float32 MatMul/Gemm/Conv (see MatMulPrecision); set by the CPU provider.
  MatMulPrecision matmul_precision = MatMulPrecision::kFloat32;

  bool has_input(size_t i) const { return node.has_input(i); }
  const Tensor* constant_input(size_t i) const { return i < constant_inputs.size() ? constant_inputs[i] : nullptr; }
  // Called by a factory that keeps what it needs of constant input `i` in its own form (packed weights, with
  // the shape and dtype): the runtime then passes input i to `compute` as absent (has_input(i) is false) and
  // releases the constant once nothing else reads it. The kernel must still accept the input when given
  // (a caller that runs it directly, as tests do). Ignored for inputs that are not constant.
  void consume_constant_input(size_t i) const {
    if (constant_input(i) == nullptr) return;
    if (consumed_constants.size() <= i) consumed_constants.resize(i + 1, false);
    consumed_constants[i] = true;
  }
  bool consumed_constant_input(size_t i) const { return i < consumed_constants.size() && consumed_constants[i]; }
};

// What a kernel sees while it runs.
class KernelContext {
 public:
  // `guard` (the run's limits, terminate flag and deadline) may be null: default limits, no deadline.
  KernelContext(const Node& node, std::vector<const RuntimeValue*> inputs, std::vector<RuntimeValue>& outputs,
                Parallelism& parallelism, ValueLookup outer, const RunGuard* guard = nullptr)
      : node_(node),
        inputs_(std::move(inputs)),
        outputs_(outputs),
        parallelism_(parallelism),
        outer_(std::move(outer)),
        guard_(guard != nullptr ? guard : &default_guard()) {}

  const Node& node() const { return node_; }
  size_t input_count() const { return inputs_.size(); }
  // True when input i is given (present in the node and not an empty value).
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr && !inputs_[i]->is_none(); }
  // Input i as a value (tensor, sequence or optional); throws naming the node when absent.
  const RuntimeValue& input_value(size_t i) const;
  // Input i as a tensor; throws naming the node when absent or not a tensor.
  const Tensor& input(size_t i) const;
  // Input i as a map (ai.onnx.ml); throws kInvalidArgument naming the input when absent or not a map.
  const MapValue& input_map(size_t i) const;
  // The raw slot (nullptr when absent), for ops that take optional values.
  const RuntimeValue* input_slot(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  // True when the kernel may write over input i's memory (and hand it on as an output): the runtime marked it as
  // an intermediate whose last reader this node is, read through no other input of the node, and it is a tensor
  // whose memory Tessera owns and nothing else holds (no caller's feed, initializer, alias or observer copy).
  // Ask before taking copies of the input's Tensor handle. False outside a plan's run (tests, direct calls).
  bool input_overwritable(size_t i) const;
  // Set by the runtime before compute: per input, whether this step is the last reader of an intermediate that
  // no other input of the node names (nullptr: none).
  void set_last_use_inputs(const std::vector<bool>* last_use) { last_use_ = last_use; }

  size_t output_count() const { return outputs_.size(); }
  // True when the node names output i (an omitted optional output need not be computed).
  bool output_wanted(size_t i) const { return i < node_.outputs.size() && !node_.outputs[i].empty(); }
  // Allocates output i as a zero-filled tensor and returns it for the kernel to fill. Refuses (kOutOfMemory),
  // before allocating, a tensor larger than the run's max_tensor_bytes. When the runtime preset a tensor of this
  // dtype and shape for output i (set_preset_outputs), that tensor is cleared and used instead.
  Tensor& allocate_output(size_t i, DType dtype, std::vector<int64_t> shape);
  // The same without clearing the memory: for kernels that write every element of the output (hot paths,
  // where clearing a recycled buffer first cost ~3% of BERT-base).
  Tensor& allocate_output_uninitialized(size_t i, DType dtype, std::vector<int64_t> shape);
  // Set by the runtime before compute: per output, the tensor that allocate_output and
  // allocate_output_uninitialized hand out when the kernel asks for exactly its dtype and shape (undefined: none),
  // so the output lands where its consumer wants it (a part of a Concat's output: see ExecutionPlan). nullptr:
  // none. The kernel sees an ordinary output either way.
  void set_preset_outputs(const std::vector<Tensor>* presets) { presets_ = presets; }
  // Output `out` set to input `in`'s own tensor when that input is overwritable (input_overwritable) and already
  // has `dtype` and `shape`; returns it, or nullptr (nothing set) otherwise. The kernel then writes the output over
  // the input (FusedConv adding into its Z, an elementwise op element by element).
  Tensor* output_over_input(size_t out, size_t in, DType dtype, const std::vector<int64_t>& shape);
  // output_over_input, else a fresh allocate_output_uninitialized: for elementwise kernels, which may write each
  // element over the input element of the same index (in-place elementwise: no new buffer, one stream less). A
  // preset output (set_preset_outputs) of this dtype and shape is preferred to the input's memory: writing there
  // costs the same and saves its consumer a copy.
  Tensor& output_over_input_or_uninitialized(size_t out, size_t in, DType dtype, const std::vector<int64_t>& shape);
  // Sets output i (a tensor, sequence or optional value); a tensor larger than max_tensor_bytes is refused.
  void set_output(size_t i, RuntimeValue value);

  Parallelism& parallelism() const { return parallelism_; }
  const ValueLookup& outer_scope() const { return outer_; }
  // The run's guard: kernels that loop check it every iteration and pass it to the subgraphs they run.
  const RunGuard& guard() const { return *guard_; }

 private:
  static const RunGuard& default_guard();
  // The preset tensor for output i when it has `dtype` and `shape`, else nullptr.
  const Tensor* preset_output(size_t i, DType dtype, const std::vector<int64_t>& shape) const;

  const Node& node_;
  std::vector<const RuntimeValue*> inputs_;
  std::vector<RuntimeValue>& outputs_;
  Parallelism& parallelism_;
  ValueLookup outer_;
  const RunGuard* guard_;
  const std::vector<bool>* last_use_ = nullptr;
  const std::vector<Tensor>* presets_ = nullptr;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Computes the node's outputs from its inputs. Throws Error; the executor adds node and shape context.
  virtual void compute(KernelContext& context) const = 0;
};

// A kernel whose compute is a function object (usually a lambda capturing the parsed attributes).
class FunctionKernel final : public Kernel {
 public:
  explicit FunctionKernel(std::function<void(KernelContext&)> fn) : fn_(std::move(fn)) {}
  void compute(KernelContext& context) const override { fn_(context); }

 private:
  std::function<void(KernelContext&)> fn_;
};

// Shorthand for factories: `return make_kernel([=](KernelContext& ctx) { ... });`
inline std::unique_ptr<Kernel> make_kernel(std::function<void(KernelContext&)> fn) {
  return std::make_unique<FunctionKernel>(std::move(fn));
}

}  // namespace tessera
