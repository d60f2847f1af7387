// Optional operators: Optional, OptionalHasElement, OptionalGetElement.
#include <climits>

#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_optional(const KernelInfo& info) {
  const Attribute* type = info.node.find_attribute("type");
  RuntimeValue::Kind kind = RuntimeValue::Kind::kTensor;
  DType element = DType::kUndefined;
  if (type != nullptr) {
    if (type->tp.kind == TypeInfo::Kind::kSequence) {
      kind = RuntimeValue::Kind::kSequence;
      if (type->tp.element) element = type->tp.element->elem_type;
    } else {
      element = type->tp.elem_type;
    }
  }
  return make_kernel([kind, element](KernelContext& ctx) {
    if (ctx.has_input(0)) ctx.set_output(0, RuntimeValue::optional_of(ctx.input_value(0)));
    else ctx.set_output(0, RuntimeValue::empty_optional(kind, element));
  });
}

std::unique_ptr<Kernel> make_optional_has_element(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue* v = ctx.input_slot(0);
    ctx.set_output(0, Tensor::scalar<bool>(DType::kBool, v != nullptr && !v->is_none()));
  });
}

std::unique_ptr<Kernel> make_optional_get_element(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const RuntimeValue* v = ctx.input_slot(0);
    check_argument(v != nullptr && !v->is_none(), "the optional input is empty");
    RuntimeValue inner = v->is_tensor() ? RuntimeValue(v->tensor())
                                        : RuntimeValue::sequence(v->element_type(), v->sequence_tensors());
    ctx.set_output(0, std::move(inner));
  });
}

const RegisterOp kOptional{{.op_type = "Optional", .since_version = 15, .factory = make_optional}};
const RegisterOp kOptionalHasElement{{.op_type = "OptionalHasElement", .since_version = 15, .factory = make_optional_has_element}};
const RegisterOp kOptionalGetElement{{.op_type = "OptionalGetElement", .since_version = 15, .factory = make_optional_get_element}};

}  // namespace
}  // namespace tessera
