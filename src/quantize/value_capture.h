// A session that also returns chosen intermediate values by name: calibration reads activation ranges through it,
// and the accuracy-budget search compares float and quantized layers with it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ir/model.h"
#include "runtime/session.h"

namespace tessera::quantize {

using Feeds = std::vector<std::pair<std::string, RuntimeValue>>;

class ValueCapture {
 public:
  // Compiles `model` at `level` with the float32 tensors named in `values` (graph inputs or node outputs of the
  // model as given) exposed beside its outputs. With a level above kDisabled a value fused away is simply not
  // returned. Throws kInvalidArgument for a name that is not a float32 tensor of the graph.
  ValueCapture(Model model, const std::vector<std::string>& values, OptimizationLevel level, int threads = 0);

  // Runs on `feeds`; returns the exposed values it computed (feeds included) and, under "", nothing else.
  std::map<std::string, Tensor> run(const Feeds& feeds) const;
  // Runs on `feeds`; returns the model's first output.
  Tensor first_output(const Feeds& feeds) const;

 private:
  std::vector<std::string> output_names_;
  std::unique_ptr<Session> session_;
};

}  // namespace tessera::quantize
