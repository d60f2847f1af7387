// OpRegistry: (domain, op type, opset range) -> kernel factory and shape inference, filled as data by one
// static registration next to each implementation.
//
//   static const RegisterOp kRelu{{.op_type = "Relu", .since_version = 6, .last_version = 13,
//                                  .factory = make_relu, .infer = infer_same_as_input}};
#pragma once

#include <climits>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/opset.h"
#include "ir/shape_inference.h"
#include "ops/kernel.h"

namespace tessera {

using KernelFactory = std::function<std::unique_ptr<Kernel>(const KernelInfo&)>;

struct OpRegistration {
  std::string domain;  // canonical: "" for ai.onnx
  std::string op_type;
  int64_t since_version = 1;        // first opset version this entry serves
  int64_t last_version = INT_MAX;   // last opset version it serves (inclusive)
  KernelFactory factory;
  ShapeInferenceFn infer;           // optional
};

class OpRegistry {
 public:
  static OpRegistry& instance();

  // Adds an entry; throws kInvalidArgument when it overlaps an existing entry of the same op.
  void add(OpRegistration registration);
  // The entry serving (domain, op_type) at `opset`, or nullptr.
  const OpRegistration* find(const std::string& domain, const std::string& op_type, int64_t opset) const;
  // Every entry, for listings.
  std::vector<const OpRegistration*> all() const;

 private:
  std::vector<std::unique_ptr<OpRegistration>> entries_;
};

// Registers at static-initialisation time (see the example at the top).
struct RegisterOp {
  explicit RegisterOp(OpRegistration registration) { OpRegistry::instance().add(std::move(registration)); }
};

}  // namespace tessera
