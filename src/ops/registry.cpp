#include "ops/registry.h"

#include <cstring>

namespace tessera {

OpRegistry& OpRegistry::instance() {
  static OpRegistry registry;
  return registry;
}

void OpRegistry::add(OpRegistration registration) {
  registration.domain = canonical_domain(registration.domain);
  for (const auto& e : entries_) {
    if (e->domain == registration.domain && e->op_type == registration.op_type &&
        e->since_version <= registration.last_version && registration.since_version <= e->last_version) {
      fail(ErrorCode::kInvalidArgument, "operator ", registration.op_type, " registered twice for opsets ",
           registration.since_version, "..", registration.last_version);
    }
  }
  entries_.push_back(std::make_unique<OpRegistration>(std::move(registration)));
}

const OpRegistration* OpRegistry::find(const std::string& domain, const std::string& op_type, int64_t opset) const {
  const std::string d = canonical_domain(domain);
  for (const auto& e : entries_) {
    if (e->op_type == op_type && e->domain == d && e->since_version <= opset && opset <= e->last_version) {
      return e.get();
    }
  }
  return nullptr;
}

std::vector<const OpRegistration*> OpRegistry::all() const {
  std::vector<const OpRegistration*> out;
  for (const auto& e : entries_) out.push_back(e.get());
  return out;
}


const RuntimeValue& KernelContext::input_value(size_t i) const {
  if (!has_input(i)) fail(ErrorCode::kInvalidArgument, "input ", i, " is required but missing");
  return *inputs_[i];
}

const Tensor& KernelContext::input(size_t i) const {
  const RuntimeValue& v = input_value(i);
  if (!v.is_tensor()) fail(ErrorCode::kInvalidArgument, "input ", i, " must be a tensor, got ", v.description());
  return v.tensor();
}

const MapValue& KernelContext::input_map(size_t i) const {
  const RuntimeValue& v = input_value(i);
  if (!v.is_map()) fail(ErrorCode::kInvalidArgument, "input ", i, " must be a map, got ", v.description());
  return v.map_value();
}

bool KernelContext::input_overwritable(size_t i) const {
  if (last_use_ == nullptr || i >= last_use_->size() || !(*last_use_)[i] || !has_input(i)) return false;
  const RuntimeValue& v = *inputs_[i];
  if (!v.is_tensor() || !v.tensor().defined()) return false;
  const std::shared_ptr<Storage>& storage = v.tensor().storage();
  return storage != nullptr && storage->owned() && storage.use_count() == 1;
}

const RunGuard& KernelContext::default_guard() {
  static const RunGuard guard;
  return guard;
}

const Tensor* KernelContext::preset_output(size_t i, DType dtype, const std::vector<int64_t>& shape) const {
  if (presets_ == nullptr || i >= presets_->size()) return nullptr;
  const Tensor& preset = (*presets_)[i];
  return preset.defined() && preset.dtype() == dtype && preset.shape() == shape ? &preset : nullptr;
}

Tensor& KernelContext::allocate_output(size_t i, DType dtype, std::vector<int64_t> shape) {
  if (i >= outputs_.size()) fail(ErrorCode::kRuntime, "output index ", i, " out of range");
  guard_->check_tensor(dtype, shape);
  if (const Tensor* preset = preset_output(i, dtype, shape)) {
    outputs_[i] = RuntimeValue(*preset);
    Tensor& y = outputs_[i].tensor();
    if (y.byte_size() > 0) std::memset(y.raw_data(), 0, y.byte_size());
    return y;
  }
  outputs_[i] = RuntimeValue(Tensor(dtype, std::move(shape)));
  return outputs_[i].tensor();
}

Tensor& KernelContext::allocate_output_uninitialized(size_t i, DType dtype, std::vector<int64_t> shape) {
  if (i >= outputs_.size()) fail(ErrorCode::kRuntime, "output index ", i, " out of range");
  guard_->check_tensor(dtype, shape);
  if (const Tensor* preset = preset_output(i, dtype, shape)) {
    outputs_[i] = RuntimeValue(*preset);
    return outputs_[i].tensor();
  }
  outputs_[i] = RuntimeValue(Tensor::uninitialized(dtype, std::move(shape)));
  return outputs_[i].tensor();
}

Tensor* KernelContext::output_over_input(size_t out, size_t in, DType dtype, const std::vector<int64_t>& shape) {
  if (out >= outputs_.size() || !input_overwritable(in)) return nullptr;
  const Tensor& x = inputs_[in]->tensor();
  if (x.dtype() != dtype || x.shape() != shape || dtype == DType::kString) return nullptr;
  outputs_[out] = RuntimeValue(x);
  return &outputs_[out].tensor();
}

Tensor& KernelContext::output_over_input_or_uninitialized(size_t out, size_t in, DType dtype,
                                                          const std::vector<int64_t>& shape) {
  if (preset_output(out, dtype, shape) != nullptr) return allocate_output_uninitialized(out, dtype, shape);
  Tensor* over = output_over_input(out, in, dtype, shape);
  return over != nullptr ? *over : allocate_output_uninitialized(out, dtype, shape);
}

void KernelContext::set_output(size_t i, RuntimeValue value) {
  if (i >= outputs_.size()) fail(ErrorCode::kRuntime, "output index ", i, " out of range");
  // Kernels that build a tensor themselves allocated it already; refusing it still stops it flowing on.
  if (value.is_tensor()) guard_->check_tensor(value.tensor().dtype(), value.tensor().shape());
  outputs_[i] = std::move(value);
}

}  // namespace tessera
