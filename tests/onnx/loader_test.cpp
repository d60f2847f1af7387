// Loader tests: ModelProto messages built with the generated classes, serialized, and loaded with
// load_model_from_bytes / load_model / Session — every element type (raw and typed fields), sparse
// initializers, external data by mmap, model-local functions, metadata and opset imports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <complex>
#include <cstring>
#include <filesystem>
#include <functional>

#include "base/error.h"
#include "base/float_types.h"
#include "onnx/model_loader.h"
#include "onnx/tensor_proto.h"
#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_float_attribute;
using testing::add_float_initializer;
using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::make_model;
using testing::serialize;
using testing::TempDir;

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string tensor_bytes(const Tensor& t) { return std::string(static_cast<const char*>(t.raw_data()), t.byte_size()); }

// One element type: its dims, its bytes on the wire (raw_data, sub-byte types packed), the bytes a Tensor holds
// after loading (sub-byte types unpacked, one per byte), and how to write the same values into the typed fields.
struct ElementCase {
  DType dtype;
  std::vector<int64_t> dims;
  std::string wire;
  std::string memory;
  std::function<void(onnx::TensorProto&)> fill_typed;
};

template <typename T, typename Field>
std::function<void(onnx::TensorProto&)> typed(std::vector<T> values, Field add) {
  return [values, add](onnx::TensorProto& p) {
    for (const T& v : values) add(p, v);
  };
}

auto int32_field = [](onnx::TensorProto& p, int32_t v) { p.add_int32_data(v); };

std::vector<ElementCase> element_cases() {
  std::vector<ElementCase> cases;
  auto same = [&](DType d, std::vector<int64_t> dims, std::string bytes, std::function<void(onnx::TensorProto&)> fill) {
    cases.push_back({d, std::move(dims), bytes, bytes, std::move(fill)});
  };
  const std::vector<float> f32 = {1.5f, -2.0f, 3.25f};
  same(DType::kFloat, {3}, bytes_of(f32), typed(f32, [](onnx::TensorProto& p, float v) { p.add_float_data(v); }));
  const std::vector<uint8_t> u8 = {0, 200, 255};
  same(DType::kUint8, {3}, bytes_of(u8), typed(std::vector<int32_t>{0, 200, 255}, int32_field));
  const std::vector<int8_t> i8 = {-128, 0, 127};
  same(DType::kInt8, {3}, bytes_of(i8), typed(std::vector<int32_t>{-128, 0, 127}, int32_field));
  const std::vector<uint16_t> u16 = {0, 65535, 7};
  same(DType::kUint16, {3}, bytes_of(u16), typed(std::vector<int32_t>{0, 65535, 7}, int32_field));
  const std::vector<int16_t> i16 = {-32768, 1, 32767};
  same(DType::kInt16, {3}, bytes_of(i16), typed(std::vector<int32_t>{-32768, 1, 32767}, int32_field));
  const std::vector<int32_t> i32 = {INT32_MIN, 0, INT32_MAX};
  same(DType::kInt32, {3}, bytes_of(i32), typed(i32, int32_field));
  const std::vector<int64_t> i64 = {INT64_MIN, 0, INT64_MAX};
  same(DType::kInt64, {3}, bytes_of(i64), typed(i64, [](onnx::TensorProto& p, int64_t v) { p.add_int64_data(v); }));
  same(DType::kBool, {3}, std::string("\x01\x00\x01", 3), typed(std::vector<int32_t>{1, 0, 1}, int32_field));
  const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x7C00};  // 1, -2, +inf
  same(DType::kFloat16, {3}, bytes_of(f16), typed(std::vector<int32_t>{0x3C00, 0xC000, 0x7C00}, int32_field));
  const std::vector<double> f64 = {0.1, -1e300, 2.0};
  same(DType::kDouble, {3}, bytes_of(f64), typed(f64, [](onnx::TensorProto& p, double v) { p.add_double_data(v); }));
  const std::vector<uint32_t> u32 = {0, 4000000000u, 7};
  same(DType::kUint32, {3}, bytes_of(u32),
       typed(std::vector<uint64_t>{0, 4000000000u, 7}, [](onnx::TensorProto& p, uint64_t v) { p.add_uint64_data(v); }));
  const std::vector<uint64_t> u64 = {0, UINT64_MAX, 7};
  same(DType::kUint64, {3}, bytes_of(u64), typed(u64, [](onnx::TensorProto& p, uint64_t v) { p.add_uint64_data(v); }));
  const std::vector<std::complex<float>> c64 = {{1, 2}, {3, -4}};
  same(DType::kComplex64, {2}, bytes_of(c64),
       typed(std::vector<float>{1, 2, 3, -4}, [](onnx::TensorProto& p, float v) { p.add_float_data(v); }));
  const std::vector<std::complex<double>> c128 = {{1, 2}, {3, -4}};
  same(DType::kComplex128, {2}, bytes_of(c128),
       typed(std::vector<double>{1, 2, 3, -4}, [](onnx::TensorProto& p, double v) { p.add_double_data(v); }));
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x7F80};  // 1, -2, +inf
  same(DType::kBFloat16, {3}, bytes_of(bf16), typed(std::vector<int32_t>{0x3F80, 0xC000, 0x7F80}, int32_field));
  // float8 codes: each list starts with the code of 1.0.
  same(DType::kFloat8E4M3FN, {3}, "\x38\x7E\x7F", typed(std::vector<int32_t>{0x38, 0x7E, 0x7F}, int32_field));
  same(DType::kFloat8E4M3FNUZ, {3}, "\x40\x7F\x80", typed(std::vector<int32_t>{0x40, 0x7F, 0x80}, int32_field));
  same(DType::kFloat8E5M2, {3}, "\x3C\x7B\xFC", typed(std::vector<int32_t>{0x3C, 0x7B, 0xFC}, int32_field));
  same(DType::kFloat8E5M2FNUZ, {3}, "\x40\x7F\x80", typed(std::vector<int32_t>{0x40, 0x7F, 0x80}, int32_field));
  same(DType::kFloat8E8M0, {3}, "\x7F\x80\x01", typed(std::vector<int32_t>{0x7F, 0x80, 0x01}, int32_field));
  // Sub-byte types: packed low bits first on the wire, one element per byte in memory (signed ones sign-extended).
  cases.push_back({DType::kUint4,
                   {3},
                   "\xF1\x07",
                   std::string("\x01\x0F\x07", 3),
                   typed(std::vector<int32_t>{0xF1, 0x07}, int32_field)});
  cases.push_back({DType::kInt4,
                   {3},
                   "\x78\x0F",
                   std::string("\xF8\x07\xFF", 3),  // -8, 7, -1
                   typed(std::vector<int32_t>{0x78, 0x0F}, int32_field)});
  cases.push_back({DType::kFloat4E2M1,
                   {3},
                   "\xF2\x07",
                   std::string("\x02\x0F\x07", 3),
                   typed(std::vector<int32_t>{0xF2, 0x07}, int32_field)});
  cases.push_back({DType::kUint2,
                   {5},
                   std::string("\xE4\x01", 2),
                   std::string("\x00\x01\x02\x03\x01", 5),
                   typed(std::vector<int32_t>{0xE4, 0x01}, int32_field)});
  cases.push_back({DType::kInt2,
                   {4},
                   "\x4E",
                   std::string("\xFE\xFF\x00\x01", 4),  // -2, -1, 0, 1
                   typed(std::vector<int32_t>{0x4E}, int32_field)});
  return cases;
}

onnx::ModelProto model_returning_initializer(const onnx::TensorProto& tensor) {
  onnx::ModelProto model = make_model(21, 10);
  auto* g = model.mutable_graph();
  *g->add_initializer() = tensor;
  add_output(g, tensor.name(), tensor.data_type());
  return model;
}

onnx::TensorProto element_tensor(const ElementCase& c, bool raw) {
  onnx::TensorProto p;
  p.set_name("t");
  p.set_data_type(static_cast<int32_t>(c.dtype));
  for (int64_t d : c.dims) p.add_dims(d);
  if (raw)
    p.set_raw_data(c.wire);
  else
    c.fill_typed(p);
  return p;
}

TEST(LoaderTest, EveryElementTypeThroughRawData) {
  const auto cases = element_cases();
  EXPECT_EQ(cases.size(), 25u);  // every DType but undefined and string (strings have no raw_data form)
  for (const ElementCase& c : cases) {
    SCOPED_TRACE(dtype_name(c.dtype));
    const Model model = load_model_from_bytes(serialize(model_returning_initializer(element_tensor(c, true))));
    const Tensor& t = model.graph->initializers.at("t");
    EXPECT_EQ(t.dtype(), c.dtype);
    EXPECT_EQ(t.shape(), c.dims);
    EXPECT_EQ(tensor_bytes(t), c.memory);
  }
}

// Initializers of 4 KiB and more keep the raw_data buffer they were parsed into (no copy) where their element
// type allows it (bool is converted, sub-byte types unpacked): every type must still read back exactly, loaded
// from a file and from bytes.
TEST(LoaderTest, LargeRawDataInitializersKeepTheirValues) {
  TempDir dir;
  for (const ElementCase& c : element_cases()) {
    if (dtype_is_sub_byte(c.dtype)) continue;  // their wire bytes do not tile
    SCOPED_TRACE(dtype_name(c.dtype));
    const int64_t copies = 8192 / static_cast<int64_t>(c.wire.size()) + 1;
    ElementCase large = c;
    large.dims.insert(large.dims.begin(), copies);
    large.wire.clear();
    large.memory.clear();
    for (int64_t i = 0; i < copies; ++i) {
      large.wire += c.wire;
      large.memory += c.memory;
    }
    const std::string bytes = serialize(model_returning_initializer(element_tensor(large, true)));
    const std::string path = dir.file("large.onnx");
    testing::write_bytes(path, bytes);
    for (const Model& model : {load_model(path), load_model_from_bytes(bytes)}) {
      const Tensor& t = model.graph->initializers.at("t");
      EXPECT_EQ(t.dtype(), c.dtype);
      EXPECT_EQ(t.shape(), large.dims);
      EXPECT_TRUE(tensor_bytes(t) == large.memory);
    }
  }
}

TEST(LoaderTest, TakingRawDataLeavesTheMessageWithoutIt) {
  onnx::TensorProto p;
  p.set_name("w");
  p.set_data_type(1);
  p.add_dims(2048);
  std::vector<float> values(2048);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  p.set_raw_data(bytes_of(values));
  const Tensor t = tensor_from_proto_taking_data(p, nullptr);
  EXPECT_FALSE(p.has_raw_data());
  EXPECT_TRUE(tensor_bytes(t) == bytes_of(values));
  // Too short to take: copied, the message keeps its bytes.
  onnx::TensorProto small;
  small.set_name("s");
  small.set_data_type(1);
  small.add_dims(4);
  small.set_raw_data(bytes_of(std::vector<float>{1, 2, 3, 4}));
  const Tensor s = tensor_from_proto_taking_data(small, nullptr);
  EXPECT_TRUE(small.has_raw_data());
  EXPECT_EQ(s.data<float>()[3], 4.0f);
  // Data that does not match the dims is refused as before.
  p.add_dims(2);
  p.set_raw_data(bytes_of(values));
  EXPECT_THROW(tensor_from_proto_taking_data(p, nullptr), Error);
}

TEST(LoaderTest, EveryElementTypeThroughTypedFields) {
  for (const ElementCase& c : element_cases()) {
    SCOPED_TRACE(dtype_name(c.dtype));
    const Model model = load_model_from_bytes(serialize(model_returning_initializer(element_tensor(c, false))));
    const Tensor& t = model.graph->initializers.at("t");
    EXPECT_EQ(t.dtype(), c.dtype);
    EXPECT_EQ(t.shape(), c.dims);
    EXPECT_EQ(tensor_bytes(t), c.memory);
  }
}

TEST(LoaderTest, NarrowFloatValuesDecode) {
  const auto cases = element_cases();
  auto first = [&](DType d) {
    for (const ElementCase& c : cases) {
      if (c.dtype == d) {
        return load_model_from_bytes(serialize(model_returning_initializer(element_tensor(c, true))))
            .graph->initializers.at("t");
      }
    }
    return Tensor();
  };
  EXPECT_EQ(half_to_float(first(DType::kFloat16).data<Float16>()[1].bits), -2.0f);
  EXPECT_TRUE(std::isinf(half_to_float(first(DType::kFloat16).data<Float16>()[2].bits)));
  EXPECT_EQ(bfloat16_to_float(first(DType::kBFloat16).data<BFloat16>()[1].bits), -2.0f);
  for (DType d :
       {DType::kFloat8E4M3FN, DType::kFloat8E4M3FNUZ, DType::kFloat8E5M2, DType::kFloat8E5M2FNUZ, DType::kFloat8E8M0}) {
    SCOPED_TRACE(dtype_name(d));
    EXPECT_EQ(narrow_float_to_float(d, first(d).data<uint8_t>()[0]), 1.0f);
  }
  EXPECT_EQ(narrow_float_to_float(DType::kFloat8E4M3FN, first(DType::kFloat8E4M3FN).data<uint8_t>()[1]), 448.0f);
  EXPECT_EQ(narrow_float_to_float(DType::kFloat4E2M1, first(DType::kFloat4E2M1).data<uint8_t>()[0]), 1.0f);
  EXPECT_EQ(narrow_float_to_float(DType::kFloat4E2M1, first(DType::kFloat4E2M1).data<uint8_t>()[1]), -6.0f);
}

TEST(LoaderTest, StringsThroughStringData) {
  onnx::TensorProto p;
  p.set_name("t");
  p.set_data_type(static_cast<int32_t>(DType::kString));
  p.add_dims(2);
  p.add_dims(2);
  const std::vector<std::string> values = {"hello", "", std::string("a\0b", 3), "\xff\xfe utf?"};
  for (const auto& s : values) p.add_string_data(s);
  const Model model = load_model_from_bytes(serialize(model_returning_initializer(p)));
  const Tensor& t = model.graph->initializers.at("t");
  ASSERT_EQ(t.dtype(), DType::kString);
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 2}));
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(t.data<std::string>()[i], values[i]);
}

TEST(LoaderTest, EveryElementTypeRoundTripsThroughTensorToProto) {
  for (const ElementCase& c : element_cases()) {
    SCOPED_TRACE(dtype_name(c.dtype));
    const Tensor loaded = tensor_from_proto(element_tensor(c, false), nullptr);
    onnx::TensorProto written;
    tensor_to_proto(loaded, "again", &written);
    EXPECT_EQ(written.raw_data(), c.dtype == DType::kBool ? std::string("\x01\x00\x01", 3) : c.wire);
    const Tensor reloaded = tensor_from_proto(written, nullptr);
    EXPECT_EQ(tensor_bytes(reloaded), c.memory);
  }
}

// Every type also survives a session: the initializer is the output, and Identity copies it to a second one.
TEST(LoaderTest, EveryElementTypeRunsThroughASession) {
  for (const ElementCase& c : element_cases()) {
    SCOPED_TRACE(dtype_name(c.dtype));
    onnx::ModelProto model = model_returning_initializer(element_tensor(c, true));
    add_node(model.mutable_graph(), "Identity", {"t"}, {"copy"});
    add_output(model.mutable_graph(), "copy", static_cast<int32_t>(c.dtype));
    for (OptimizationLevel level : {OptimizationLevel::kDisabled, OptimizationLevel::kAll}) {
      const Session session =
          Session::from_bytes(serialize(model), {.intra_op_threads = 1, .optimization_level = level});
      const auto outputs = session.run({});
      ASSERT_EQ(outputs.size(), 2u);
      for (const RuntimeValue& v : outputs) {
        ASSERT_TRUE(v.is_tensor());
        EXPECT_EQ(v.tensor().dtype(), c.dtype);
        EXPECT_EQ(tensor_bytes(v.tensor()), c.memory);
      }
    }
  }
}

TEST(LoaderTest, SparseInitializersAreDensified) {
  onnx::ModelProto model = make_model(17);
  auto* g = model.mutable_graph();
  // Linear indices.
  auto* linear = g->add_sparse_initializer();
  linear->add_dims(3);
  linear->add_dims(4);
  auto* values = linear->mutable_values();
  values->set_name("linear");
  values->set_data_type(1);
  values->add_dims(2);
  values->add_float_data(5.0f);
  values->add_float_data(7.0f);
  auto* indices = linear->mutable_indices();
  indices->set_data_type(7);
  indices->add_dims(2);
  indices->add_int64_data(1);
  indices->add_int64_data(10);
  // Coordinate indices, int64 values.
  auto* coords = g->add_sparse_initializer();
  coords->add_dims(3);
  coords->add_dims(4);
  auto* cvalues = coords->mutable_values();
  cvalues->set_name("coords");
  cvalues->set_data_type(7);
  cvalues->add_dims(2);
  cvalues->add_int64_data(-3);
  cvalues->add_int64_data(9);
  auto* cindices = coords->mutable_indices();
  cindices->set_data_type(7);
  cindices->add_dims(2);
  cindices->add_dims(2);
  for (int64_t v : {0, 1, 2, 3}) cindices->add_int64_data(v);

  add_input(g, "x", 1, {int64_t{3}, int64_t{4}});
  add_node(g, "Add", {"x", "linear"}, {"y"});
  add_output(g, "y", 1);
  add_output(g, "coords", 7);

  const Model loaded = load_model_from_bytes(serialize(model));
  const Tensor& dense = loaded.graph->initializers.at("linear");
  ASSERT_EQ(dense.shape(), (std::vector<int64_t>{3, 4}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(dense.data<float>()[i], i == 1 ? 5.0f : (i == 10 ? 7.0f : 0.0f)) << i;
  const Tensor& c = loaded.graph->initializers.at("coords");
  for (int i = 0; i < 12; ++i) EXPECT_EQ(c.data<int64_t>()[i], i == 1 ? -3 : (i == 11 ? 9 : 0)) << i;

  const Session session = Session::from_bytes(serialize(model), {.intra_op_threads = 1});
  Tensor x(DType::kFloat, {3, 4});
  for (int i = 0; i < 12; ++i) x.data<float>()[i] = static_cast<float>(i);
  const auto outputs = session.run({{"x", x}});
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(outputs[0].tensor().data<float>()[i], i + (i == 1 ? 5.0f : (i == 10 ? 7.0f : 0.0f)));
  }
  EXPECT_EQ(outputs[1].tensor().data<int64_t>()[11], 9);
}

TEST(LoaderTest, SparseIndicesOutOfRangeAreRefused) {
  onnx::ModelProto model = make_model(17);
  auto* s = model.mutable_graph()->add_sparse_initializer();
  s->add_dims(4);
  s->mutable_values()->set_name("s");
  s->mutable_values()->set_data_type(1);
  s->mutable_values()->add_dims(1);
  s->mutable_values()->add_float_data(1.0f);
  s->mutable_indices()->set_data_type(7);
  s->mutable_indices()->add_dims(1);
  s->mutable_indices()->add_int64_data(4);
  add_output(model.mutable_graph(), "s", 1);
  try {
    load_model_from_bytes(serialize(model));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
}

onnx::TensorProto* add_external(onnx::GraphProto* g, const std::string& name, int32_t dtype,
                                const std::vector<int64_t>& dims, const std::string& location,
                                const std::string& offset = {}, const std::string& length = {}) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(dtype);
  for (int64_t d : dims) t->add_dims(d);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const std::string& k, const std::string& v) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  if (!offset.empty()) add("offset", offset);
  if (!length.empty()) add("length", length);
  return t;
}

// weights.bin: 16 bytes of padding, float a[4] = {1,2,3,4}, float c[4] = {10,20,30,40}.
// sub/packed.bin: int4 {-1, 2, 3} packed (not borrowable: copied and unpacked).
// "a" and "b" share the same bytes (b views them as [2,2]).
struct ExternalFolder {
  TempDir dir;
  std::string model_path;
  onnx::ModelProto model;

  ExternalFolder() {
    std::string weights(16, '\x55');
    weights += bytes_of(std::vector<float>{1, 2, 3, 4});
    weights += bytes_of(std::vector<float>{10, 20, 30, 40});
    testing::write_bytes(dir.file("weights.bin"), weights);
    std::filesystem::create_directory(dir.file("sub"));
    testing::write_bytes(dir.file("sub/packed.bin"), std::string("\x2F\x03", 2));
    model = make_model(17);
    auto* g = model.mutable_graph();
    add_external(g, "a", 1, {4}, "weights.bin", "16", "16");
    add_external(g, "b", 1, {2, 2}, "weights.bin", "16", "16");
    add_external(g, "c", 1, {4}, "weights.bin", "32");  // no length: to the end of the file
    add_external(g, "packed", static_cast<int32_t>(DType::kInt4), {3}, "sub/packed.bin");
    add_node(g, "Add", {"a", "c"}, {"sum"});
    add_output(g, "sum", 1);
    add_output(g, "b", 1);
    add_output(g, "packed", static_cast<int32_t>(DType::kInt4));
    model_path = dir.file("model.onnx");
    testing::write_bytes(model_path, serialize(model));
  }
};

TEST(LoaderTest, ExternalDataIsMappedWithOffsetsAndLengths) {
  ExternalFolder folder;
  Tensor a_copy;
  {
    const Model model = load_model(folder.model_path);
    const auto& init = model.graph->initializers;
    const Tensor& a = init.at("a");
    const Tensor& b = init.at("b");
    const Tensor& c = init.at("c");
    EXPECT_EQ(a.shape(), (std::vector<int64_t>{4}));
    EXPECT_EQ(b.shape(), (std::vector<int64_t>{2, 2}));
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(a.data<float>()[i], i + 1.0f);
      EXPECT_EQ(b.data<float>()[i], i + 1.0f);
      EXPECT_EQ(c.data<float>()[i], (i + 1) * 10.0f);
    }
    // Borrowed from one shared mapping: the two initializers that name the same bytes see the same memory,
    // and the neighbour sits 16 bytes further into it.
    EXPECT_EQ(a.raw_data(), b.raw_data());
    EXPECT_EQ(static_cast<const char*>(c.raw_data()) - static_cast<const char*>(a.raw_data()), 16);
    const Tensor& packed = init.at("packed");
    EXPECT_EQ(tensor_bytes(packed), std::string("\xFF\x02\x03", 3));
    a_copy = a;
  }
  // The mapping outlives the model while a tensor still uses it.
  EXPECT_EQ(a_copy.data<float>()[3], 4.0f);
}

TEST(LoaderTest, ExternalDataRunsThroughSessionsFromPathAndFromBytes) {
  ExternalFolder folder;
  for (int from_bytes = 0; from_bytes < 2; ++from_bytes) {
    const Session session =
        from_bytes ? Session::from_bytes(serialize(folder.model), {.intra_op_threads = 1}, folder.dir.path())
                   : Session(folder.model_path, {.intra_op_threads = 1});
    const auto outputs = session.run({});
    ASSERT_EQ(outputs.size(), 3u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(outputs[0].tensor().data<float>()[i], (i + 1) * 11.0f);
  }
}

TEST(LoaderTest, ExternalDataNeedsAModelFolder) {
  ExternalFolder folder;
  try {
    load_model_from_bytes(serialize(folder.model));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("external data"), std::string::npos) << e.what();
  }
}

TEST(LoaderTest, MissingExternalFileIsAnIoError) {
  ExternalFolder folder;
  std::filesystem::remove(folder.dir.file("sub/packed.bin"));
  try {
    load_model(folder.model_path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("sub/packed.bin"), std::string::npos) << e.what();
  }
}

TEST(LoaderTest, MissingModelFileIsAnIoError) {
  TempDir dir;
  try {
    load_model(dir.file("nothing.onnx"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("nothing.onnx"), std::string::npos) << e.what();
  }
}

// A model file is parsed from a mapping in 4 MiB windows, stretched over initializers of 32 MiB and more (w1
// here): initializers that straddle window boundaries (sizes that are not multiples of a page, odd offsets) must
// load exactly as written, and a file cut short must be refused cleanly.
TEST(LoaderTest, LargeModelFilesParseAcrossMappingWindows) {
  onnx::ModelProto model = make_model(17);
  auto* g = model.mutable_graph();
  std::vector<std::vector<float>> weights;
  for (int64_t count : {int64_t{3} << 20, int64_t{9000011}, int64_t{7}, int64_t{2} << 20}) {
    std::vector<float> values(static_cast<size_t>(count));
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((i * 2654435761u) % 1000003);
    auto* t = g->add_initializer();
    t->set_name("w" + std::to_string(weights.size()));
    t->set_data_type(1);
    t->add_dims(count);
    t->set_raw_data(bytes_of(values));
    add_output(g, t->name(), 1);
    weights.push_back(std::move(values));
  }
  const std::string bytes = serialize(model);
  ASSERT_GT(bytes.size(), size_t{50} << 20);
  TempDir dir;
  const std::string path = dir.file("big.onnx");
  testing::write_bytes(path, bytes);
  const Model loaded = load_model(path);
  for (size_t i = 0; i < weights.size(); ++i) {
    const Tensor& t = loaded.graph->initializers.at("w" + std::to_string(i));
    ASSERT_EQ(t.element_count(), static_cast<int64_t>(weights[i].size()));
    EXPECT_EQ(std::memcmp(t.raw_data(), weights[i].data(), t.byte_size()), 0) << "w" << i;
  }
  testing::write_bytes(path, bytes.substr(0, bytes.size() - 4096 * 3 - 5));
  try {
    load_model(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
  }
}

// ScaleAdd(X, Y; alpha = 2.0) = alpha * X + Y, written with Constant(value_float = @alpha), Mul and Add.
onnx::FunctionProto* add_scale_add_function(onnx::ModelProto& model) {
  auto* f = model.add_functions();
  f->set_name("ScaleAdd");
  f->set_domain("local.fn");
  f->add_input("X");
  f->add_input("Y");
  f->add_output("Z");
  auto* default_alpha = f->add_attribute_proto();
  default_alpha->set_name("alpha");
  default_alpha->set_type(onnx::AttributeProto::FLOAT);
  default_alpha->set_f(2.0f);
  auto* import = f->add_opset_import();
  import->set_domain("");
  import->set_version(17);
  auto* constant = f->add_node();
  constant->set_op_type("Constant");
  constant->add_output("c");
  auto* ref = constant->add_attribute();
  ref->set_name("value_float");
  ref->set_type(onnx::AttributeProto::FLOAT);
  ref->set_ref_attr_name("alpha");
  auto* mul = f->add_node();
  mul->set_op_type("Mul");
  mul->add_input("X");
  mul->add_input("c");
  mul->add_output("t");
  auto* add = f->add_node();
  add->set_op_type("Add");
  add->add_input("t");
  add->add_input("Y");
  add->add_output("Z");
  return f;
}

TEST(LoaderTest, ModelLocalFunctionsAreInlinedWithAttributeReferences) {
  onnx::ModelProto model = make_model(17, 9);
  auto* import = model.add_opset_import();
  import->set_domain("local.fn");
  import->set_version(1);
  add_scale_add_function(model);
  // Triple(X) = ScaleAdd(X, X; alpha = 2): a function calling a function.
  auto* triple = model.add_functions();
  triple->set_name("Triple");
  triple->set_domain("local.fn");
  triple->add_input("X");
  triple->add_output("Y");
  auto* fimport = triple->add_opset_import();
  fimport->set_domain("local.fn");
  fimport->set_version(1);
  auto* call = triple->add_node();
  call->set_op_type("ScaleAdd");
  call->set_domain("local.fn");
  call->add_input("X");
  call->add_input("X");
  call->add_output("Y");

  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{3}});
  add_input(g, "y", 1, {int64_t{3}});
  add_float_attribute(add_node(g, "ScaleAdd", {"x", "y"}, {"z1"}, "first", "local.fn"), "alpha", 3.0f);
  add_node(g, "ScaleAdd", {"z1", "y"}, {"z2"}, "second", "local.fn");  // default alpha = 2
  add_node(g, "Triple", {"x"}, {"z3"}, "third", "local.fn");
  add_output(g, "z1", 1);
  add_output(g, "z2", 1);
  add_output(g, "z3", 1);

  const Model loaded = load_model_from_bytes(serialize(model));
  EXPECT_EQ(loaded.function_names, (std::vector<std::string>{"local.fn:ScaleAdd", "local.fn:Triple"}));
  EXPECT_EQ(loaded.graph->nodes.size(), 9u);
  for (const auto& node : loaded.graph->nodes) {
    EXPECT_TRUE(node->domain.empty()) << node->label();
    EXPECT_EQ(node->opset, 17) << node->label();
  }

  const Session session = Session::from_bytes(serialize(model), {.intra_op_threads = 1});
  const auto outputs = session.run({{"x", Tensor::from_vector<float>(DType::kFloat, {1, 2, 3})},
                                    {"y", Tensor::from_vector<float>(DType::kFloat, {10, 20, 30})}});
  ASSERT_EQ(outputs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const float x = i + 1.0f, y = (i + 1) * 10.0f;
    const float z1 = 3 * x + y;
    EXPECT_FLOAT_EQ(outputs[0].tensor().data<float>()[i], z1);
    EXPECT_FLOAT_EQ(outputs[1].tensor().data<float>()[i], 2 * z1 + y);
    EXPECT_FLOAT_EQ(outputs[2].tensor().data<float>()[i], 3 * x);
  }
}

TEST(LoaderTest, MetadataIsKept) {
  onnx::ModelProto model = make_model(17);
  model.set_producer_name("pytorch");
  model.set_producer_version("2.1.0");
  model.set_domain("org.example.vision");
  model.set_model_version(42);
  model.set_doc_string("a test model");
  for (auto [k, v] : {std::pair{"author", "tessera"}, std::pair{"license", "MIT"}}) {
    auto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  add_float_initializer(model.mutable_graph(), "w", {1}, {1.0f});
  add_output(model.mutable_graph(), "w", 1);
  const Model loaded = load_model_from_bytes(serialize(model));
  EXPECT_EQ(loaded.ir_version, 8);
  EXPECT_EQ(loaded.producer_name, "pytorch");
  EXPECT_EQ(loaded.producer_version, "2.1.0");
  EXPECT_EQ(loaded.domain, "org.example.vision");
  EXPECT_EQ(loaded.model_version, 42);
  EXPECT_EQ(loaded.doc_string, "a test model");
  EXPECT_EQ(loaded.metadata, (std::map<std::string, std::string>{{"author", "tessera"}, {"license", "MIT"}}));
  EXPECT_EQ(loaded.graph->name, "test_graph");
}

TEST(LoaderTest, OpsetImportsResolvePerDomain) {
  onnx::ModelProto model = make_model(13);
  model.mutable_opset_import(0)->set_domain("ai.onnx");  // spelled out: the same as ""
  for (auto [domain, version] :
       {std::pair{"ai.onnx.ml", 3}, std::pair{"com.microsoft", 1}, std::pair{"com.example", 7}}) {
    auto* import = model.add_opset_import();
    import->set_domain(domain);
    import->set_version(version);
  }
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}});
  add_node(g, "Relu", {"x"}, {"r"}, "relu", "ai.onnx");
  add_node(g, "Normalizer", {"r"}, {"n"}, "normalizer", "ai.onnx.ml");
  add_node(g, "FusedGemm", {"n"}, {"f"}, "fused", "com.microsoft");
  add_node(g, "Custom", {"f"}, {"y"}, "custom", "com.example");
  add_output(g, "y", 1);
  const Model loaded = load_model_from_bytes(serialize(model));
  EXPECT_EQ(loaded.opset_imports,
            (std::map<std::string, int64_t>{{"", 13}, {"ai.onnx.ml", 3}, {"com.microsoft", 1}, {"com.example", 7}}));
  std::map<std::string, std::pair<std::string, int64_t>> by_name;
  for (const auto& n : loaded.graph->nodes) by_name[n->name] = {n->domain, n->opset};
  EXPECT_EQ(by_name["relu"], (std::pair<std::string, int64_t>{"", 13}));
  EXPECT_EQ(by_name["normalizer"], (std::pair<std::string, int64_t>{"ai.onnx.ml", 3}));
  EXPECT_EQ(by_name["fused"], (std::pair<std::string, int64_t>{"com.microsoft", 1}));
  EXPECT_EQ(by_name["custom"], (std::pair<std::string, int64_t>{"com.example", 7}));
  // Nodes come out topologically sorted.
  EXPECT_EQ(loaded.graph->nodes.front()->name, "relu");
  EXPECT_EQ(loaded.graph->nodes.back()->name, "custom");
}

// The fuzz_model_loader finding fuzz/regressions/model_loader/zero_element_float_initializer: a typed-field
// initializer with no elements was copied with memcpy from and to null pointers (undefined behaviour).
TEST(LoaderTest, ZeroElementInitializersWithoutDataLoad) {
  for (int32_t data_type : {1, 7, 11, 13, 14}) {  // float, int64, double, uint64, complex64
    onnx::ModelProto model = make_model(17);
    auto* t = model.mutable_graph()->add_initializer();
    t->set_name("w");
    t->set_data_type(data_type);
    t->add_dims(0);
    t->add_dims(3);
    add_output(model.mutable_graph(), "w", data_type);
    const Model loaded = load_model_from_bytes(serialize(model));
    EXPECT_EQ(loaded.graph->initializers.at("w").element_count(), 0) << data_type;
    EXPECT_EQ(loaded.graph->initializers.at("w").shape(), (std::vector<int64_t>{0, 3})) << data_type;
  }
  const std::string finding = testing::read_bytes(std::string(TESSERA_SOURCE_DIR) +
                                                  "/fuzz/regressions/model_loader/zero_element_float_initializer");
  try {
    load_model_from_bytes(finding);  // loads or is refused; under the sanitizers of scripts/fuzz.sh, no report
  } catch (const Error& e) {
    EXPECT_NE(e.code(), ErrorCode::kRuntime) << e.what();
  }
}

TEST(LoaderTest, ModelsBeforeIrThreeWithoutOpsetImportsUseOpsetOne) {
  onnx::ModelProto model = make_model(17, 2);
  model.clear_opset_import();
  add_float_initializer(model.mutable_graph(), "w", {1}, {1.0f});
  add_output(model.mutable_graph(), "w", 1);
  EXPECT_EQ(load_model_from_bytes(serialize(model)).opset_imports, (std::map<std::string, int64_t>{{"", 1}}));
}

TEST(LoaderTest, ModelsFromIrThreeOnWithoutOpsetImportsAreRefused) {
  for (int64_t ir_version : {3, 8}) {
    onnx::ModelProto model = make_model(17, ir_version);
    model.clear_opset_import();
    add_float_initializer(model.mutable_graph(), "w", {1}, {1.0f});
    add_output(model.mutable_graph(), "w", 1);
    try {
      load_model_from_bytes(serialize(model));
      FAIL() << "expected an error at IR version " << ir_version;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
      EXPECT_NE(std::string(e.what()).find("no opset_import"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("IR version " + std::to_string(ir_version)), std::string::npos) << e.what();
    }
  }
}

TEST(LoaderTest, DeclaredTypesKeepSymbolicDims) {
  onnx::ModelProto model = make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{3}});
  g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim();  // unknown, unnamed
  add_node(g, "Relu", {"x"}, {"y"});
  add_output(g, "y", 1, {std::string("batch"), int64_t{3}, std::string("?")}, true);
  const Session session = Session::from_bytes(serialize(model));
  ASSERT_EQ(session.inputs().size(), 1u);
  EXPECT_EQ(session.inputs()[0].type.to_string(), "float[batch,3,?]");
  EXPECT_EQ(session.outputs()[0].type.to_string(), "float[batch,3,?]");
}

TEST(LoaderTest, AttributesWithoutTypeAreTypedFromTheirField) {
  onnx::ModelProto model = make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}, int64_t{3}});
  auto* node = add_node(g, "Transpose", {"x"}, {"y"}, "transpose");
  auto* perm = node->add_attribute();  // IR < 3 style: no type field
  perm->set_name("perm");
  perm->add_ints(1);
  perm->add_ints(0);
  add_output(g, "y", 1);
  const Model loaded = load_model_from_bytes(serialize(model));
  EXPECT_EQ(loaded.graph->nodes[0]->attr_ints("perm"), (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace tessera
