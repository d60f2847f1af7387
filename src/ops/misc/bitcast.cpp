// BitCast (opset 26): reinterprets the bits of every element as another element type of the same bit width;
// the shape is unchanged. Sub-byte types (held unpacked, one element per byte) reinterpret their 4 or 2 bits.
#include <climits>
#include <cstring>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Bits one element of `dtype` occupies in ONNX's (packed) representation; 0 for string and undefined.
int dtype_bit_width(DType dtype) {
  switch (dtype) {
    case DType::kUint2:
    case DType::kInt2:
      return 2;
    case DType::kUint4:
    case DType::kInt4:
    case DType::kFloat4E2M1:
      return 4;
    case DType::kString:
    case DType::kUndefined:
      return 0;
    default:
      return static_cast<int>(dtype_size(dtype) * 8);
  }
}

// The raw code of a sub-byte element (low 4 or 2 bits of the unpacked byte).
uint8_t sub_byte_code(DType dtype, uint8_t byte) { return dtype_bit_width(dtype) == 4 ? (byte & 0x0F) : (byte & 0x03); }

// The unpacked byte holding `code` as an element of `dtype` (signed types are sign-extended).
uint8_t sub_byte_from_code(DType dtype, uint8_t code) {
  if (dtype == DType::kInt4) return (code & 0x08) ? static_cast<uint8_t>(code | 0xF0) : code;
  if (dtype == DType::kInt2) return (code & 0x02) ? static_cast<uint8_t>(code | 0xFC) : code;
  return code;
}

void check_bitcast_type(DType dtype, const char* what) {
  check_model(dtype_is_valid(static_cast<int32_t>(dtype)) && dtype != DType::kString && dtype != DType::kUndefined,
              "BitCast: ", what, " element type ", dtype_name(dtype), " cannot be bit-cast");
}

std::unique_ptr<Kernel> make_bitcast(const KernelInfo& info) {
  const int64_t to_value = info.node.required_attribute("to").i;
  check_model(dtype_is_valid(static_cast<int32_t>(to_value)), "attribute 'to' = ", to_value,
              " is not a valid element type");
  const auto to = static_cast<DType>(to_value);
  check_bitcast_type(to, "target");
  return make_kernel([to](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() != DType::kString, "input 'input' ", tensor_text(x), ": strings cannot be bit-cast");
    check_argument(dtype_bit_width(x.dtype()) == dtype_bit_width(to), "input 'input' ", tensor_text(x), " has ",
                   dtype_bit_width(x.dtype()), "-bit elements but 'to' (", dtype_name(to), ") has ",
                   dtype_bit_width(to), "-bit elements");
    if (x.dtype() == to) {
      ctx.set_output(0, x);
      return;
    }
    Tensor& y = ctx.allocate_output(0, to, x.shape());
    const auto* src = static_cast<const uint8_t*>(x.raw_data());
    auto* dst = static_cast<uint8_t*>(y.raw_data());
    const int64_t count = x.element_count();
    if (dtype_is_sub_byte(to)) {
      for (int64_t i = 0; i < count; ++i) dst[i] = sub_byte_from_code(to, sub_byte_code(x.dtype(), src[i]));
    } else if (to == DType::kBool) {
      // A C++ bool must hold 0 or 1; any other byte pattern reads as true.
      bool* out = y.data<bool>();
      for (int64_t i = 0; i < count; ++i) out[i] = src[i] != 0;
    } else {
      std::memcpy(dst, src, x.byte_size());
    }
  });
}

void infer_bitcast(InferenceContext& ctx) {
  const Attribute* to = ctx.node().find_attribute("to");
  if (to == nullptr || !dtype_is_valid(static_cast<int32_t>(to->i))) return;
  const TypeInfo* in = ctx.input_type(0);
  ctx.set_output_type(0, TypeInfo::tensor(static_cast<DType>(to->i), in && in->is_tensor() ? in->shape : std::nullopt));
}

const RegisterOp kBitCast{{.op_type = "BitCast",
                           .since_version = 26,
                           .last_version = INT_MAX,
                           .factory = make_bitcast,
                           .infer = infer_bitcast}};

}  // namespace
}  // namespace tessera
