#include "onnx/tensor_proto.h"

#include <cstring>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "base/lazy_text.h"
#include "onnx/external_data.h"
#include "onnx/map_proto.h"

namespace tessera {

namespace {

// Bytes that `count` elements occupy on the wire (sub-byte types packed, low bits first).
uint64_t wire_bytes(DType dtype, int64_t count) {
  const uint64_t n = static_cast<uint64_t>(count);
  if (dtype == DType::kInt4 || dtype == DType::kUint4 || dtype == DType::kFloat4E2M1) return (n + 1) / 2;
  if (dtype == DType::kInt2 || dtype == DType::kUint2) return (n + 3) / 4;
  return n * dtype_size(dtype);
}

int bits_per_element(DType dtype) {
  if (dtype == DType::kInt4 || dtype == DType::kUint4 || dtype == DType::kFloat4E2M1) return 4;
  if (dtype == DType::kInt2 || dtype == DType::kUint2) return 2;
  return 8;
}

// Unpacks sub-byte elements from `packed` into one byte per element (sign-extending the signed types).
void unpack_sub_byte(DType dtype, const uint8_t* packed, int64_t count, uint8_t* out) {
  const int bits = bits_per_element(dtype);
  const int per_byte = 8 / bits;
  const uint8_t mask = static_cast<uint8_t>((1u << bits) - 1);
  const bool is_signed = dtype == DType::kInt4 || dtype == DType::kInt2;
  for (int64_t i = 0; i < count; ++i) {
    uint8_t v = (packed[i / per_byte] >> ((i % per_byte) * bits)) & mask;
    if (is_signed && (v & (1u << (bits - 1)))) v = static_cast<uint8_t>(v | ~mask);
    out[i] = v;
  }
}

std::string pack_sub_byte(DType dtype, const uint8_t* values, int64_t count) {
  const int bits = bits_per_element(dtype);
  const int per_byte = 8 / bits;
  const uint8_t mask = static_cast<uint8_t>((1u << bits) - 1);
  std::string packed(wire_bytes(dtype, count), '\0');
  for (int64_t i = 0; i < count; ++i) {
    packed[i / per_byte] = static_cast<char>(static_cast<uint8_t>(packed[i / per_byte]) |
                                             ((values[i] & mask) << ((i % per_byte) * bits)));
  }
  return packed;
}

[[noreturn]] void bad_data(const std::string& name, const Tensor& t, const std::string& field, uint64_t have,
                           uint64_t want) {
  fail(ErrorCode::kInvalidModel, "tensor '", name, "' ", t.description(), ": ", field, " holds ", have,
       " values but the dims need ", want);
}

// memcpy for a possibly empty range: a tensor without elements has no memory, and memcpy's pointers must not
// be null even for 0 bytes (found by the model_loader fuzzer: a float initializer with dims [0]).
void copy_bytes(void* destination, const void* source, size_t bytes) {
  if (bytes > 0) std::memcpy(destination, source, bytes);
}

// Copies typed repeated fields into the tensor.
void fill_from_typed_fields(const onnx::TensorProto& p, Tensor& t) {
  const std::string& name = p.name();
  const uint64_t n = static_cast<uint64_t>(t.element_count());
  const DType d = t.dtype();
  auto need = [&](const std::string& field, uint64_t have, uint64_t want) {
    if (have != want) bad_data(name, t, field, have, want);
  };
  switch (d) {
    case DType::kFloat:
      need("float_data", p.float_data_size(), n);
      copy_bytes(t.raw_data(), p.float_data().data(), n * 4);
      return;
    case DType::kComplex64:
      need("float_data", p.float_data_size(), 2 * n);
      copy_bytes(t.raw_data(), p.float_data().data(), n * 8);
      return;
    case DType::kDouble:
      need("double_data", p.double_data_size(), n);
      copy_bytes(t.raw_data(), p.double_data().data(), n * 8);
      return;
    case DType::kComplex128:
      need("double_data", p.double_data_size(), 2 * n);
      copy_bytes(t.raw_data(), p.double_data().data(), n * 16);
      return;
    case DType::kInt64:
      need("int64_data", p.int64_data_size(), n);
      copy_bytes(t.raw_data(), p.int64_data().data(), n * 8);
      return;
    case DType::kUint32:
      need("uint64_data", p.uint64_data_size(), n);
      for (uint64_t i = 0; i < n; ++i) t.data<uint32_t>()[i] = static_cast<uint32_t>(p.uint64_data(i));
      return;
    case DType::kUint64:
      need("uint64_data", p.uint64_data_size(), n);
      copy_bytes(t.raw_data(), p.uint64_data().data(), n * 8);
      return;
    case DType::kString:
      need("string_data", p.string_data_size(), n);
      for (uint64_t i = 0; i < n; ++i) t.data<std::string>()[i] = p.string_data(i);
      return;
    default: break;
  }
  if (dtype_is_sub_byte(d)) {
    const uint64_t packed_bytes = wire_bytes(d, t.element_count());
    need("int32_data", p.int32_data_size(), packed_bytes);
    std::string packed(packed_bytes, '\0');
    for (uint64_t i = 0; i < packed_bytes; ++i) packed[i] = static_cast<char>(p.int32_data(i));
    unpack_sub_byte(d, reinterpret_cast<const uint8_t*>(packed.data()), t.element_count(),
                    static_cast<uint8_t*>(t.raw_data()));
    return;
  }
  // int32_data carries int32, int16, int8, uint16, uint8, bool, float16 / bfloat16 bits and float8 codes.
  need("int32_data", p.int32_data_size(), n);
  const size_t size = dtype_size(d);
  for (uint64_t i = 0; i < n; ++i) {
    const int32_t v = p.int32_data(i);
    char* dst = static_cast<char*>(t.raw_data()) + i * size;
    if (size == 4) std::memcpy(dst, &v, 4);
    else if (size == 2) {
      const uint16_t v16 = static_cast<uint16_t>(v);
      std::memcpy(dst, &v16, 2);
    } else if (d == DType::kBool) {
      *reinterpret_cast<bool*>(dst) = v != 0;
    } else {
      *reinterpret_cast<uint8_t*>(dst) = static_cast<uint8_t>(v);
    }
  }
}

void fill_from_bytes(const std::string& name, const char* bytes, uint64_t length, Tensor& t) {
  if (t.dtype() == DType::kString) {
    // Strings live in string_data only; raw bytes must never be copied over std::string objects.
    fail(ErrorCode::kInvalidModel, "tensor '", name, "' ", t.description(),
         ": string tensors must use string_data, not raw_data or external data");
  }
  const uint64_t want = wire_bytes(t.dtype(), t.element_count());
  if (length != want) {
    fail(ErrorCode::kInvalidModel, "tensor '", name, "' ", t.description(), " has ", length,
         " bytes of data but its dims need ", want);
  }
  if (dtype_is_sub_byte(t.dtype())) {
    unpack_sub_byte(t.dtype(), reinterpret_cast<const uint8_t*>(bytes), t.element_count(),
                    static_cast<uint8_t*>(t.raw_data()));
  } else if (t.dtype() == DType::kBool) {
    for (uint64_t i = 0; i < length; ++i) t.data<bool>()[i] = bytes[i] != 0;
  } else if (length > 0) {
    std::memcpy(t.raw_data(), bytes, length);
  }
}

// Keeps a mapped external data file alive for a tensor borrowing part of it. When the tensor goes (released
// once a kernel packed it, say), the pages it alone covered leave the resident set even though the file stays
// mapped for the other tensors.
struct MappedRange {
  std::shared_ptr<MappedFile> file;
  uint64_t offset;
  uint64_t bytes;
  MappedRange(std::shared_ptr<MappedFile> f, uint64_t o, uint64_t b) : file(std::move(f)), offset(o), bytes(b) {}
  ~MappedRange() { file->release_pages(offset, bytes); }
  MappedRange(const MappedRange&) = delete;
  MappedRange& operator=(const MappedRange&) = delete;
};

uint64_t parse_uint(const std::string& tensor_name, const std::string& key, const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
    fail(ErrorCode::kInvalidModel, "tensor '", tensor_name, "': external data ", key, " '", text,
         "' is not a non-negative integer");
  }
  return std::stoull(text);
}

Tensor tensor_from_external(const onnx::TensorProto& p, DType d, std::vector<int64_t> dims, int64_t count,
                            ExternalDataResolver* resolver) {
  const std::string& name = p.name();
  if (resolver == nullptr) fail(ErrorCode::kInvalidModel, "tensor '", name, "' uses external data, which is not allowed here");
  std::string location;
  uint64_t offset = 0;
  bool has_length = false;
  uint64_t length = 0;
  for (const auto& entry : p.external_data()) {
    if (entry.key() == "location") location = entry.value();
    else if (entry.key() == "offset") offset = parse_uint(name, "offset", entry.value());
    else if (entry.key() == "length") {
      length = parse_uint(name, "length", entry.value());
      has_length = true;
    }
  }
  auto file = resolver->open(location, name);
  if (offset > file->size()) {
    fail(ErrorCode::kInvalidModel, "tensor '", name, "': external data offset ", offset, " is past the end of '",
         location, "' (", file->size(), " bytes)");
  }
  if (!has_length) length = file->size() - offset;
  const uint64_t want = wire_bytes(d, count);
  if (length != want || offset + length > file->size()) {
    fail(ErrorCode::kInvalidModel, "tensor '", name, "' ", dtype_name(d), shape_to_string(dims), ": external data in '", location,
         "' at offset ", offset, " with length ", length, " does not hold the ", want, " bytes the dims need (file has ",
         file->size(), " bytes)");
  }
  const bool can_borrow = !dtype_is_sub_byte(d) && d != DType::kBool && d != DType::kString && want > 0 &&
                          offset % dtype_size(d) == 0;
  if (can_borrow) {
    auto range = std::make_shared<MappedRange>(file, offset, want);
    auto storage = Storage::borrow(const_cast<char*>(file->data() + offset), want, std::move(range));
    return Tensor(d, std::move(dims), std::move(storage));
  }
  Tensor t(d, std::move(dims));
  fill_from_bytes(name, file->data() + offset, length, t);
  return t;
}

// Compares the amount of data present with what the dims need, so a tensor claiming terabytes with a few
// bytes of data is refused before anything is allocated.
void check_data_size_before_allocating(const onnx::TensorProto& p, DType d, int64_t count) {
  uint64_t have = 0;
  uint64_t want = static_cast<uint64_t>(count);
  if (p.has_raw_data() && d == DType::kString) {
    fail(ErrorCode::kInvalidModel, "tensor '", p.name(), "' string", shape_to_string({p.dims().begin(), p.dims().end()}),
         ": string tensors must use string_data, not raw_data");
  }
  if (p.has_raw_data()) {
    have = p.raw_data().size();
    want = wire_bytes(d, count);
  } else {
    switch (d) {
      case DType::kFloat: have = p.float_data_size(); break;
      case DType::kComplex64: have = p.float_data_size() / 2; break;
      case DType::kDouble: have = p.double_data_size(); break;
      case DType::kComplex128: have = p.double_data_size() / 2; break;
      case DType::kInt64: have = p.int64_data_size(); break;
      case DType::kUint32: case DType::kUint64: have = p.uint64_data_size(); break;
      case DType::kString: have = p.string_data_size(); break;
      default:
        have = p.int32_data_size();
        if (dtype_is_sub_byte(d)) want = wire_bytes(d, count);
    }
  }
  if (have != want) {
    fail(ErrorCode::kInvalidModel, "tensor '", p.name(), "' ", dtype_name(d), shape_to_string({p.dims().begin(), p.dims().end()}),
         " carries ", have, p.has_raw_data() ? " bytes" : " values", " of data but its dims need ", want);
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p, ExternalDataResolver* resolver) {
  const std::string& name = p.name();
  if (!dtype_is_valid(p.data_type())) {
    fail(ErrorCode::kInvalidModel, "tensor '", name, "' has unknown data_type ", p.data_type());
  }
  const DType dtype = static_cast<DType>(p.data_type());
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  for (int64_t d : dims) {
    if (d < 0) fail(ErrorCode::kInvalidModel, "tensor '", name, "' has negative dimension in ", shape_to_string(dims));
  }
  const int64_t count = shape_element_count(dims);  // throws on overflow
  if (p.has_segment()) fail(ErrorCode::kUnsupported, "tensor '", name, "' is segmented, which Tessera does not read");
  if (p.data_location() == onnx::TensorProto::EXTERNAL) return tensor_from_external(p, dtype, dims, count, resolver);
  check_data_size_before_allocating(p, dtype, count);
  Tensor t(dtype, dims);
  if (p.has_raw_data()) {
    fill_from_bytes(name, p.raw_data().data(), p.raw_data().size(), t);
  } else {
    fill_from_typed_fields(p, t);
  }
  return t;
}

Tensor tensor_from_proto_taking_data(onnx::TensorProto& p, ExternalDataResolver* resolver) {
  // Below this size a copy costs less than a separately kept buffer.
  constexpr size_t kMinTakenBytes = 4096;
  const size_t bytes = p.raw_data().size();
  if (!p.has_raw_data() || bytes < kMinTakenBytes || p.data_location() == onnx::TensorProto::EXTERNAL ||
      p.has_segment() || !dtype_is_valid(p.data_type())) {
    return tensor_from_proto(p, resolver);
  }
  const DType dtype = static_cast<DType>(p.data_type());
  if (dtype_is_sub_byte(dtype) || dtype == DType::kBool || dtype == DType::kString ||
      reinterpret_cast<uintptr_t>(p.raw_data().data()) % dtype_size(dtype) != 0) {
    return tensor_from_proto(p, resolver);
  }
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  for (int64_t d : dims) {
    if (d < 0) fail(ErrorCode::kInvalidModel, "tensor '", p.name(), "' has negative dimension in ", shape_to_string(dims));
  }
  check_data_size_before_allocating(p, dtype, shape_element_count(dims));
  // Moving a heap-allocated std::string keeps its buffer where it is, so the data stays aligned as checked.
  auto data = std::make_shared<std::string>(std::move(*p.mutable_raw_data()));
  p.clear_raw_data();
  void* begin = data->data();
  return Tensor(dtype, std::move(dims), Storage::borrow(begin, bytes, std::move(data)));
}

}  // namespace tessera

namespace tessera {

Tensor tensor_from_sparse_proto(const onnx::SparseTensorProto& proto, ExternalDataResolver* resolver) {
  const Tensor values = tensor_from_proto(proto.values(), resolver);
  const std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  Tensor dense;
  try {
    dense = Tensor(values.dtype(), dims);
  } catch (const Error& e) {
    throw Error(e.code(), "sparse tensor '" + proto.values().name() + "': " + e.what());
  }
  const int64_t nnz = values.element_count();
  const int64_t total = dense.element_count();
  if (nnz == 0) return dense;
  const Tensor indices = tensor_from_proto(proto.indices(), resolver);
  check_model(indices.dtype() == DType::kInt64, "sparse tensor '", proto.values().name(), "': indices must be int64");
  std::vector<int64_t> linear(static_cast<size_t>(nnz));
  const int64_t* idx = indices.data<int64_t>();
  if (indices.rank() == 1) {
    check_model(indices.element_count() == nnz, "sparse tensor indices count differs from values count");
    for (int64_t i = 0; i < nnz; ++i) linear[i] = idx[i];
  } else {
    check_model(indices.rank() == 2 && indices.dim(0) == nnz && indices.dim(1) == static_cast<int64_t>(dims.size()),
                "sparse tensor '", proto.values().name(), "': indices shape ", shape_text(indices.shape()),
                " does not match ", nnz, " values of rank ", dims.size());
    for (int64_t i = 0; i < nnz; ++i) {
      int64_t offset = 0;
      for (size_t a = 0; a < dims.size(); ++a) {
        const int64_t v = idx[i * static_cast<int64_t>(dims.size()) + static_cast<int64_t>(a)];
        check_model(v >= 0 && v < dims[a], "sparse tensor index ", v, " out of range for dim ", dims[a]);
        offset = offset * dims[a] + v;
      }
      linear[i] = offset;
    }
  }
  const size_t size = dtype_size(values.dtype());
  for (int64_t i = 0; i < nnz; ++i) {
    check_model(linear[i] >= 0 && linear[i] < total, "sparse tensor index ", linear[i], " out of range");
    if (values.dtype() == DType::kString) {
      dense.data<std::string>()[linear[i]] = values.data<std::string>()[i];
    } else {
      std::memcpy(static_cast<char*>(dense.raw_data()) + linear[i] * size,
                  static_cast<const char*>(values.raw_data()) + i * size, size);
    }
  }
  return dense;
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  proto->Clear();
  proto->set_name(name);
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  if (tensor.dtype() == DType::kString) {
    for (int64_t i = 0; i < tensor.element_count(); ++i) proto->add_string_data(tensor.data<std::string>()[i]);
  } else if (dtype_is_sub_byte(tensor.dtype())) {
    proto->set_raw_data(pack_sub_byte(tensor.dtype(), tensor.data<uint8_t>(), tensor.element_count()));
  } else {
    proto->set_raw_data(std::string(static_cast<const char*>(tensor.raw_data()), tensor.byte_size()));
  }
}

TypeInfo type_from_proto(const onnx::TypeProto& proto) {
  TypeInfo t;
  auto shape_of = [](const onnx::TensorShapeProto& shape) {
    std::vector<Dim> dims;
    for (const auto& d : shape.dim()) {
      if (d.has_dim_value()) dims.push_back(Dim::known(d.dim_value()));
      else if (d.has_dim_param()) dims.push_back(Dim::named(d.dim_param()));
      else dims.push_back(Dim{});
    }
    return dims;
  };
  auto dtype_of_field = [](int32_t v) { return dtype_is_valid(v) ? static_cast<DType>(v) : DType::kUndefined; };
  switch (proto.value_case()) {
    case onnx::TypeProto::kTensorType:
      t.kind = TypeInfo::Kind::kTensor;
      t.elem_type = dtype_of_field(proto.tensor_type().elem_type());
      if (proto.tensor_type().has_shape()) t.shape = shape_of(proto.tensor_type().shape());
      break;
    case onnx::TypeProto::kSparseTensorType:
      t.kind = TypeInfo::Kind::kSparseTensor;
      t.elem_type = dtype_of_field(proto.sparse_tensor_type().elem_type());
      if (proto.sparse_tensor_type().has_shape()) t.shape = shape_of(proto.sparse_tensor_type().shape());
      break;
    case onnx::TypeProto::kSequenceType:
      t = TypeInfo::sequence_of(type_from_proto(proto.sequence_type().elem_type()));
      break;
    case onnx::TypeProto::kOptionalType:
      t = TypeInfo::optional_of(type_from_proto(proto.optional_type().elem_type()));
      break;
    case onnx::TypeProto::kMapType:
      t.kind = TypeInfo::Kind::kMap;
      t.elem_type = dtype_of_field(proto.map_type().key_type());
      t.element = std::make_shared<TypeInfo>(type_from_proto(proto.map_type().value_type()));
      break;
    default: break;
  }
  return t;
}

void type_to_proto(const TypeInfo& type, onnx::TypeProto* proto) {
  proto->Clear();
  auto write_shape = [&](onnx::TensorShapeProto* shape) {
    for (const Dim& d : *type.shape) {
      auto* dim = shape->add_dim();
      if (d.is_known()) dim->set_dim_value(d.value);
      else if (!d.symbol.empty()) dim->set_dim_param(d.symbol);
    }
  };
  switch (type.kind) {
    case TypeInfo::Kind::kTensor:
      proto->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(type.elem_type));
      if (type.shape) write_shape(proto->mutable_tensor_type()->mutable_shape());
      break;
    case TypeInfo::Kind::kSparseTensor:
      proto->mutable_sparse_tensor_type()->set_elem_type(static_cast<int32_t>(type.elem_type));
      if (type.shape) write_shape(proto->mutable_sparse_tensor_type()->mutable_shape());
      break;
    case TypeInfo::Kind::kSequence:
      type_to_proto(*type.element, proto->mutable_sequence_type()->mutable_elem_type());
      break;
    case TypeInfo::Kind::kOptional:
      type_to_proto(*type.element, proto->mutable_optional_type()->mutable_elem_type());
      break;
    case TypeInfo::Kind::kMap:
      proto->mutable_map_type()->set_key_type(static_cast<int32_t>(type.elem_type));
      type_to_proto(*type.element, proto->mutable_map_type()->mutable_value_type());
      break;
    case TypeInfo::Kind::kUnknown: break;
  }
}

namespace {
RuntimeValue sequence_from_proto(const onnx::SequenceProto& proto) {
  std::vector<Tensor> tensors;
  DType element = DType::kUndefined;
  if (proto.elem_type() != onnx::SequenceProto::TENSOR && proto.elem_type() != onnx::SequenceProto::UNDEFINED) {
    fail(ErrorCode::kUnsupported, "sequence '", proto.name(), "' holds non-tensor elements, which Tessera does not support");
  }
  for (const auto& t : proto.tensor_values()) {
    tensors.push_back(tensor_from_proto(t, nullptr));
    element = tensors.back().dtype();
  }
  return RuntimeValue::sequence(element, std::move(tensors));
}

RuntimeValue optional_from_proto(const onnx::OptionalProto& proto, const TypeInfo& type) {
  const TypeInfo* inner = type.element.get();
  const bool holds_sequence = inner && inner->kind == TypeInfo::Kind::kSequence;
  DType element = DType::kUndefined;
  if (inner) element = holds_sequence && inner->element ? inner->element->elem_type : inner->elem_type;
  if (proto.has_tensor_value()) return RuntimeValue::optional_of(tensor_from_proto(proto.tensor_value(), nullptr));
  if (proto.has_sequence_value()) return RuntimeValue::optional_of(sequence_from_proto(proto.sequence_value()));
  return RuntimeValue::empty_optional(holds_sequence ? RuntimeValue::Kind::kSequence : RuntimeValue::Kind::kTensor, element);
}
}  // namespace

namespace {
RuntimeValue decode_value(const std::string& bytes, const TypeInfo& type);
}  // namespace

RuntimeValue value_from_bytes(const std::string& bytes, const TypeInfo& type) {
  try {
    return decode_value(bytes, type);
  } catch (const Error& e) {
    // A malformed value is a bad argument, not a bad model.
    if (e.code() == ErrorCode::kInvalidModel) throw Error(ErrorCode::kInvalidArgument, e.what());
    throw;
  }
}

namespace {
// The value type a map type declares (kUndefined when it does not).
DType declared_map_value_type(const TypeInfo& map_type) {
  return map_type.element ? map_type.element->elem_type : DType::kUndefined;
}

RuntimeValue decode_value(const std::string& bytes, const TypeInfo& type) {
  if (type.kind == TypeInfo::Kind::kMap) {
    onnx::MapProto proto;
    if (!proto.ParseFromString(bytes)) fail(ErrorCode::kInvalidArgument, "cannot parse a MapProto");
    return RuntimeValue::map(map_from_proto(proto, declared_map_value_type(type)));
  }
  if (type.kind == TypeInfo::Kind::kSequence && type.element && type.element->kind == TypeInfo::Kind::kMap) {
    onnx::SequenceProto proto;
    if (!proto.ParseFromString(bytes)) fail(ErrorCode::kInvalidArgument, "cannot parse a SequenceProto");
    const DType value_type = declared_map_value_type(*type.element);
    std::vector<MapValue> maps;
    for (const onnx::MapProto& map : proto.map_values()) maps.push_back(map_from_proto(map, value_type));
    return RuntimeValue::map_sequence(type.element->elem_type, value_type, std::move(maps));
  }
  if (type.kind == TypeInfo::Kind::kSequence) {
    onnx::SequenceProto proto;
    if (!proto.ParseFromString(bytes)) fail(ErrorCode::kInvalidArgument, "cannot parse a SequenceProto");
    RuntimeValue v = sequence_from_proto(proto);
    if (v.element_type() == DType::kUndefined && type.element) {
      return RuntimeValue::sequence(type.element->elem_type, {});
    }
    return v;
  }
  if (type.kind == TypeInfo::Kind::kOptional) {
    onnx::OptionalProto proto;
    if (!proto.ParseFromString(bytes)) fail(ErrorCode::kInvalidArgument, "cannot parse an OptionalProto");
    return optional_from_proto(proto, type);
  }
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) fail(ErrorCode::kInvalidArgument, "cannot parse a TensorProto");
  return RuntimeValue(tensor_from_proto(proto, nullptr));
}
}  // namespace

namespace {
void sequence_to_proto(const RuntimeValue& value, const std::string& name, onnx::SequenceProto* proto) {
  proto->set_name(name);
  proto->set_elem_type(onnx::SequenceProto::TENSOR);
  for (const Tensor& t : value.sequence_tensors()) tensor_to_proto(t, "", proto->add_tensor_values());
}
}  // namespace

std::string value_to_bytes(const RuntimeValue& value, const std::string& name) {
  if (value.is_optional()) {
    onnx::OptionalProto proto;
    proto.set_name(name);
    if (value.is_tensor()) {
      proto.set_elem_type(onnx::OptionalProto::TENSOR);
      tensor_to_proto(value.tensor(), "", proto.mutable_tensor_value());
    } else if (value.is_sequence()) {
      proto.set_elem_type(onnx::OptionalProto::SEQUENCE);
      sequence_to_proto(value, "", proto.mutable_sequence_value());
    } else {
      proto.set_elem_type(value.empty_optional_kind() == RuntimeValue::Kind::kSequence ? onnx::OptionalProto::SEQUENCE
                                                                                        : onnx::OptionalProto::TENSOR);
    }
    return proto.SerializeAsString();
  }
  if (value.is_sequence()) {
    onnx::SequenceProto proto;
    sequence_to_proto(value, name, &proto);
    return proto.SerializeAsString();
  }
  if (value.is_map()) {
    onnx::MapProto proto;
    map_to_proto(value.map_value(), name, &proto);
    return proto.SerializeAsString();
  }
  if (value.is_map_sequence()) {
    onnx::SequenceProto proto;
    proto.set_name(name);
    proto.set_elem_type(onnx::SequenceProto::MAP);
    for (const MapValue& map : value.maps()) map_to_proto(map, "", proto.add_map_values());
    return proto.SerializeAsString();
  }
  if (!value.is_tensor()) fail(ErrorCode::kInvalidArgument, "value '", name, "' is empty and cannot be written");
  onnx::TensorProto proto;
  tensor_to_proto(value.tensor(), name, &proto);
  return proto.SerializeAsString();
}

}  // namespace tessera
