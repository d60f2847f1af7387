// Session: load a model once, run it many times. Composes the loader, the optimizer, the execution
// providers, the execution plan and the thread pool; `run` is const and may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/runtime_value.h"
#include "ir/model.h"
#include "ops/kernel.h"
#include "ops/run_guard.h"
#include "passes/pass.h"

namespace tessera {

class ExecutionPlan;
struct MemoryPlan;
class ExecutionProvider;
class ThreadPool;

struct SessionOptions {
  int intra_op_threads = 0;  // 0: one per core; 1: run on the caller only
  OptimizationLevel optimization_level = OptimizationLevel::kAll;
  std::vector<std::string> disabled_passes;  // pass names to skip (see pass_names())
  // Symbolic input dims fixed to a value before optimization (ONNX Runtime's free-dimension overrides): every
  // dim of a graph input whose symbol is a key becomes that value. Symbols no input uses are ignored.
  std::map<std::string, int64_t> free_dimension_overrides;
  // When set, the optimized model (with inferred value types) is written here at creation, before kernels
  // pack and release weights — as ONNX Runtime's SessionOptions.optimized_model_filepath.
  std::string optimized_model_filepath;
  // Resource limits (largest tensor, Loop iterations, subgraph depth, model size); see ResourceLimits.
  ResourceLimits limits;
  // Denormal floats flushed to zero (FTZ and DAZ) on the threads that run this session's nodes, as ONNX Runtime's
  // "session.set_denormal_as_zero": faster where activations decay into denormals, results then differ there.
  bool denormals_as_zero = false;
  // float32 MatMul/Gemm and Conv with constant weights on the bf16 GEMM when kBFloat16 (see MatMulPrecision; off
  // by default), as OpenVINO's inference_precision hint.
  MatMulPrecision matmul_precision = MatMulPrecision::kFloat32;
  // The memory pattern (ONNX Runtime's enable_mem_pattern): the first run at new feed shapes is recorded, and the
  // runs after it at those shapes place every intermediate at its planned offset in one arena block
  // (runtime/memory_plan.h). Off: every intermediate is allocated from the buffer pool as it is produced.
  bool memory_pattern = true;
  // Batch splitting (runtime/batch_split.h): a graph that computes every item of its batch on its own runs a feed of
  // N items as runs of s items each (s the thread count when it divides N, else 1), on the memory plan of s items,
  // and its outputs are the runs' outputs in order. Each item's outputs are then those of a run of that item alone.
  bool split_batch = true;
};

class NodeObserver;

// Per-run controls; everything is optional.
struct RunControl {
  // Checked before every node (of the main graph and of subgraphs) and every Loop/Scan iteration; once true
  // the run stops with kRuntime ("terminated").
  const std::atomic<bool>* terminate = nullptr;
  // When > 0, the run's deadline is this many milliseconds after run() starts; checked where `terminate` is,
  // the run stops with kRuntime ("deadline") once it has passed. The session stays usable.
  int64_t timeout_ms = 0;
  // Called around every node of the main graph (a Profiler's recorder, say).
  NodeObserver* observer = nullptr;
};

// A named input or output as the model declares it (symbolic dims kept symbolic).
struct IoInfo {
  std::string name;
  TypeInfo type;
};

class Session {
 public:
  // Loads, validates, optimizes and compiles the model at `path`. Throws Error (kIo, kInvalidModel,
  // kUnsupported listing every unsupported node; kInvalidModel for a file larger than limits.max_model_bytes,
  // subgraphs nested deeper than limits.max_graph_depth, or a value whose inferred shape needs more than
  // limits.max_tensor_bytes, naming the node).
  explicit Session(const std::string& path, SessionOptions options = {});
  // The same from serialized model bytes; external data resolves relative to `model_dir`.
  static Session from_bytes(const std::string& bytes, SessionOptions options = {}, const std::string& model_dir = {});
  explicit Session(Model model, SessionOptions options = {});

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Inputs a caller must or may feed (initializers that are also graph inputs are optional feeds).
  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  // The model as compiled. Initializers that kernels consumed into packed copies (and nothing else reads) are
  // released at creation: their entries remain, as undefined tensors.
  const Model& model() const { return model_; }
  // What each optimization pass did at creation.
  const std::vector<PassReport>& optimization_report() const { return pass_reports_; }

  // Runs with named feeds; returns the requested outputs (all, in model order, when `output_names` is empty)
  // in the order requested. Feeds are checked: unknown names, missing required inputs, dtype, rank and known
  // dims give kInvalidArgument naming the input and both shapes. The returned tensors never share memory with
  // the session (initializers), the feeds or each other: an output that would (Identity of a weight, Reshape of
  // a feed) is copied, so the caller may write into any output; the others are handed over without a copy.
  std::vector<RuntimeValue> run(const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                                const std::vector<std::string>& output_names = {}) const;
  // The same with per-run controls.
  std::vector<RuntimeValue> run(const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                                const std::vector<std::string>& output_names, const RunControl& control) const;
  // The memory plan the runs at its feed shapes use (SessionOptions::memory_pattern; nullptr before the first run
  // or when off): for reports (its arena_bytes) and tests.
  std::shared_ptr<const MemoryPlan> memory_plan() const;
  // The batch dimension's symbol when runs split their batch (SessionOptions::split_batch and a graph that computes
  // its items apart), else ""; why_batch_is_not_split() says why not.
  const std::string& split_batch_symbol() const { return split_batch_symbol_; }
  const std::string& why_batch_is_not_split() const { return why_batch_is_not_split_; }

 private:
  void initialize();
  // run() over feeds of `items` items (first dimension), `slice` items at a time.
  std::vector<RuntimeValue> run_in_slices(const std::vector<RuntimeValue>& ordered, int64_t items, int64_t slice,
                                          const RunGuard& guard, const RunControl& control) const;
  // The item count shared by every batched feed when this run splits (split_batch_symbol_ set, every feed of a
  // batched input a tensor with the same first dimension), else 0.
  int64_t batch_items(const std::vector<RuntimeValue>& ordered) const;
  std::vector<RuntimeValue> order_feeds(const std::vector<std::pair<std::string, RuntimeValue>>& feeds) const;

  // Declared first, so destroyed last: gives the buffers this session's tensors returned to the process-wide
  // buffer pool back to the OS.
  struct BufferPoolTrimmer {
    ~BufferPoolTrimmer();
  };
  BufferPoolTrimmer trimmer_;
  SessionOptions options_;
  Model model_;
  std::vector<IoInfo> inputs_;
  std::vector<IoInfo> outputs_;
  std::vector<PassReport> pass_reports_;
  std::vector<std::shared_ptr<ExecutionProvider>> providers_;
  std::unique_ptr<ExecutionPlan> plan_;
  std::unique_ptr<ThreadPool> pool_;
  std::string split_batch_symbol_;
  std::string why_batch_is_not_split_;
  std::vector<bool> batched_input_;  // per input (inputs_ order): its first dimension is the batch
};

// Checks one feed against its declared type; throws kInvalidArgument naming the input and both types.
void check_feed(const IoInfo& declared, const RuntimeValue& value);

}  // namespace tessera
