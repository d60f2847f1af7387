// Where the meaning of an ai.onnx operator changed from one opset version to the next, in ways a model moved to a
// newer opset (re-exported, converted, or run by a runtime that upgrades it) can silently compute something else:
// attributes that became inputs, default axes that moved, new modes whose defaults differ. `tessera check` lists
// the ones between a model's opset and the newest, so a user pinning an opset knows what a move would change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct OpsetSemanticsChange {
  std::string op;       // ai.onnx operator type
  int64_t version = 0;  // the opset version from which the new meaning holds
  std::string change;   // what differs for a model written for an older version
};

// The changes of ai.onnx `op` at versions in (from_opset, to_opset], oldest first (none for ops whose meaning only
// gained types).
std::vector<OpsetSemanticsChange> opset_semantics_changes(const std::string& op, int64_t from_opset, int64_t to_opset);

}  // namespace tessera
