// GraphPass: one graph rewrite. A pass reports whether it changed the graph; it must keep outputs unchanged.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace tessera {

// Optimization levels as ONNX Runtime users know them.
enum class OptimizationLevel { kDisabled = 0, kBasic = 1, kExtended = 2, kAll = 3 };

// Parses "disabled" / "basic" / "extended" / "all" (or 0..3); throws kInvalidArgument otherwise.
OptimizationLevel parse_optimization_level(const std::string& text);

class GraphPass {
 public:
  virtual ~GraphPass() = default;
  // A stable name, used to switch the pass off and in verbose reports.
  virtual std::string name() const = 0;
  // The lowest level at which the pass runs.
  virtual OptimizationLevel level() const = 0;
  // Rewrites `graph` in place; returns true when anything changed. The graph stays topologically sorted.
  virtual bool run(Graph& graph) = 0;
  // What the last run did, one line per fused group ("FusedConv 'c' <- Conv 'c', Add 'a', Relu 'r'"); cleared.
  std::vector<std::string> take_changes() { return std::exchange(changes_, {}); }

 protected:
  void note(std::string change) { changes_.push_back(std::move(change)); }
  std::vector<std::string> changes_;
};

// What one pass did, for `--verbose` reports.
struct PassReport {
  std::string pass;
  bool changed = false;
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  std::vector<std::string> changes;  // which node groups became what (fusion passes)
};

// Runs the passes of `level` and below over `graph` and its subgraphs (If/Loop/Scan bodies, innermost first),
// skipping those named in `disabled`, until none changes anything (at most a few rounds). Returns what each pass
// run on `graph` itself did.
std::vector<PassReport> optimize_graph(Graph& graph, OptimizationLevel level,
                                       const std::vector<std::string>& disabled = {});

// The names of all passes, in run order.
std::vector<std::string> pass_names();

}  // namespace tessera
