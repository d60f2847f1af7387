// ExecutionProvider: the boundary between the session and a device. A provider says which nodes it can run
// and creates their kernels; the session assigns each node to the first provider (in priority order) that
// supports it. The CPU provider backs every operator in the OpRegistry.
#pragma once

#include <memory>
#include <string>

#include "ops/kernel.h"
#include "ops/registry.h"

namespace tessera {

class ExecutionProvider {
 public:
  virtual ~ExecutionProvider() = default;
  virtual std::string name() const = 0;
  // True when the provider has a kernel for the node at the node's opset.
  virtual bool supports(const Node& node) const = 0;
  // Creates the node's kernel (once, at session creation).
  virtual std::unique_ptr<Kernel> create_kernel(const KernelInfo& info) const = 0;
};

// The CPU provider; its kernels see `matmul_precision` (SessionOptions::matmul_precision) in their KernelInfo.
class CpuExecutionProvider final : public ExecutionProvider {
 public:
  explicit CpuExecutionProvider(MatMulPrecision matmul_precision = MatMulPrecision::kFloat32)
      : matmul_precision_(matmul_precision) {}
  std::string name() const override { return "CPUExecutionProvider"; }
  bool supports(const Node& node) const override {
    return OpRegistry::instance().find(node.domain, node.op_type, node.opset) != nullptr;
  }
  std::unique_ptr<Kernel> create_kernel(const KernelInfo& info) const override {
    const OpRegistration* entry = OpRegistry::instance().find(info.node.domain, info.node.op_type, info.node.opset);
    if (entry == nullptr) fail(ErrorCode::kUnsupported, info.node.label(), ": no CPU kernel");
    if (info.matmul_precision == matmul_precision_) return entry->factory(info);
    KernelInfo with_precision = info;
    with_precision.matmul_precision = matmul_precision_;
    std::unique_ptr<Kernel> kernel = entry->factory(with_precision);
    info.consumed_constants = with_precision.consumed_constants;
    return kernel;
  }

 private:
  MatMulPrecision matmul_precision_;
};

}  // namespace tessera
