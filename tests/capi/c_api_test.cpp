// The C API against libtessera.so alone: versions, sessions from a path and from bytes, input/output
// descriptions with symbolic dims, free-dimension overrides, runs returning tensors or writing caller buffers,
// and every failure reported as a status with a message (no exception crosses, no crash on bad input).
#include "tessera/c_api.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

// A few lines of protobuf encoding, so the test needs nothing but libtessera.so (linking Tessera's own
// onnx.proto code beside the library's would register the descriptors twice).
std::string varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  return out + static_cast<char>(value);
}
std::string field(int number, const std::string& bytes) {
  return varint(number << 3 | 2) + varint(bytes.size()) + bytes;
}
std::string field(int number, uint64_t value) { return varint(number << 3) + varint(value); }

// ValueInfoProto of a float tensor; a dim is a number or, when negative, the symbol `symbol`.
std::string float_value_info(const std::string& name, const std::vector<int64_t>& dims, const std::string& symbol) {
  std::string shape;
  for (int64_t d : dims) shape += field(1, d >= 0 ? field(1, static_cast<uint64_t>(d)) : field(2, symbol));
  return field(1, name) + field(2, field(1, field(1, uint64_t{1}) + field(2, shape)));
}

// y = Relu(x) with x, y float[batch, 3], opset 17.
std::string relu_model() {
  const std::string node = field(1, "x") + field(2, "y") + field(3, "relu") + field(4, "Relu");
  const std::string graph = field(1, node) + field(2, "g") + field(11, float_value_info("x", {-1, 3}, "batch")) +
                            field(12, float_value_info("y", {-1, 3}, "batch"));
  return field(1, uint64_t{8}) + field(8, field(2, uint64_t{17})) + field(7, graph);
}

// x: float[batch, 2] -> ZipMap(classlabels_int64s 0, 1) -> p: seq(map(int64, tensor(float))), and y = Identity(x):
// a converted classifier's shape (ai.onnx.ml imported), with one output the C API cannot return.
std::string zip_map_model() {
  const std::string labels = field(1, "classlabels_int64s") + varint(20 << 3) + varint(7) + varint(8 << 3) + varint(0) +
                             varint(8 << 3) + varint(1);
  const std::string zip =
      field(1, "x") + field(2, "p") + field(3, "zip") + field(4, "ZipMap") + field(5, labels) + field(7, "ai.onnx.ml");
  const std::string identity = field(1, "x") + field(2, "y") + field(3, "identity") + field(4, "Identity");
  const std::string float_tensor_type = field(1, field(1, uint64_t{1}));
  const std::string map_type = field(5, field(1, uint64_t{7}) + field(2, float_tensor_type));
  const std::string p_info = field(1, "p") + field(2, field(4, field(1, map_type)));
  const std::string graph = field(1, zip) + field(1, identity) + field(2, "g") +
                            field(11, float_value_info("x", {-1, 2}, "batch")) + field(12, p_info) +
                            field(12, float_value_info("y", {-1, 2}, "batch"));
  return field(1, uint64_t{8}) + field(8, field(2, uint64_t{17})) +
         field(8, field(1, "ai.onnx.ml") + field(2, uint64_t{1})) + field(7, graph);
}

struct SessionDeleter {
  void operator()(tessera_session* s) const { tessera_session_destroy(s); }
};
struct TensorDeleter {
  void operator()(tessera_tensor* t) const { tessera_tensor_destroy(t); }
};
using SessionPtr = std::unique_ptr<tessera_session, SessionDeleter>;
using TensorPtr = std::unique_ptr<tessera_tensor, TensorDeleter>;

SessionPtr relu_session(const tessera_session_options* options = nullptr) {
  const std::string bytes = relu_model();
  tessera_session* session = nullptr;
  EXPECT_EQ(tessera_session_create_from_bytes(bytes.data(), bytes.size(), options, &session), TESSERA_OK)
      << tessera_last_error_message();
  return SessionPtr(session);
}

TensorPtr wrap(std::vector<float>& values, const std::vector<int64_t>& dims) {
  tessera_tensor* tensor = nullptr;
  EXPECT_EQ(tessera_tensor_wrap(TESSERA_ELEMENT_FLOAT, dims.data(), dims.size(), values.data(),
                                values.size() * sizeof(float), &tensor),
            TESSERA_OK)
      << tessera_last_error_message();
  return TensorPtr(tensor);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CApiTest, VersionsMatchTheHeader) {
  EXPECT_EQ(tessera_api_version(), static_cast<uint32_t>(TESSERA_C_API_VERSION));
  EXPECT_STREQ(tessera_version(), "0.1.0");
  EXPECT_STREQ(tessera_status_name(TESSERA_INVALID_MODEL), "INVALID_MODEL");
}

TEST(CApiTest, DescribesInputsWithSymbolicDims) {
  SessionPtr session = relu_session();
  ASSERT_TRUE(session);
  size_t count = 0;
  ASSERT_EQ(tessera_session_io_count(session.get(), TESSERA_IO_INPUT, &count), TESSERA_OK);
  EXPECT_EQ(count, 1u);
  const char* name = nullptr;
  ASSERT_EQ(tessera_session_io_name(session.get(), TESSERA_IO_OUTPUT, 0, &name), TESSERA_OK);
  EXPECT_STREQ(name, "y");
  int32_t type = 0;
  int64_t rank = 0;
  const int64_t* dims = nullptr;
  ASSERT_EQ(tessera_session_io_type(session.get(), TESSERA_IO_INPUT, 0, &type, &rank, &dims), TESSERA_OK);
  EXPECT_EQ(type, TESSERA_ELEMENT_FLOAT);
  ASSERT_EQ(rank, 2);
  EXPECT_EQ(dims[0], -1);
  EXPECT_EQ(dims[1], 3);
  const char* symbol = nullptr;
  ASSERT_EQ(tessera_session_io_dim_name(session.get(), TESSERA_IO_INPUT, 0, 0, &symbol), TESSERA_OK);
  EXPECT_STREQ(symbol, "batch");
  EXPECT_EQ(tessera_session_io_name(session.get(), TESSERA_IO_INPUT, 5, &name), TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tessera_last_error_message(), "out of range")) << tessera_last_error_message();
}

TEST(CApiTest, RunReturnsOutputTensors) {
  SessionPtr session = relu_session();
  std::vector<float> x = {-1, 2, -3, 4, -5, 6};
  TensorPtr input = wrap(x, {2, 3});
  const char* names[] = {"x"};
  const tessera_tensor* inputs[] = {input.get()};
  tessera_tensor* output = nullptr;
  ASSERT_EQ(tessera_session_run(session.get(), names, inputs, 1, nullptr, 1, &output), TESSERA_OK)
      << tessera_last_error_message();
  TensorPtr owned(output);
  size_t rank = 0;
  const int64_t* dims = nullptr;
  ASSERT_EQ(tessera_tensor_shape(output, &rank, &dims), TESSERA_OK);
  ASSERT_EQ(rank, 2u);
  EXPECT_EQ(dims[0], 2);
  void* data = nullptr;
  size_t bytes = 0;
  ASSERT_EQ(tessera_tensor_data(output, &data, &bytes), TESSERA_OK);
  ASSERT_EQ(bytes, 6 * sizeof(float));
  const std::vector<float> y(static_cast<float*>(data), static_cast<float*>(data) + 6);
  EXPECT_EQ(y, (std::vector<float>{0, 2, 0, 4, 0, 6}));
  EXPECT_EQ(x[0], -1.0f);  // inputs are read, never written
}

TEST(CApiTest, RunIntoCallerBuffersChecksTheirShape) {
  SessionPtr session = relu_session();
  std::vector<float> x = {-1, 2, -3};
  TensorPtr input = wrap(x, {1, 3});
  const char* names[] = {"x"};
  const char* output_names[] = {"y"};
  const tessera_tensor* inputs[] = {input.get()};
  std::vector<float> y(3, 99.0f);
  TensorPtr destination = wrap(y, {1, 3});
  tessera_tensor* outputs[] = {destination.get()};
  ASSERT_EQ(tessera_session_run_into(session.get(), names, inputs, 1, output_names, 1, outputs), TESSERA_OK)
      << tessera_last_error_message();
  EXPECT_EQ(y, (std::vector<float>{0, 2, 0}));

  std::vector<float> wrong(4, 7.0f);
  TensorPtr wrong_destination = wrap(wrong, {2, 2});
  tessera_tensor* wrong_outputs[] = {wrong_destination.get()};
  EXPECT_EQ(tessera_session_run_into(session.get(), names, inputs, 1, output_names, 1, wrong_outputs),
            TESSERA_INVALID_ARGUMENT);
  const std::string message = tessera_last_error_message();
  EXPECT_TRUE(contains(message, "'y'") && contains(message, "float[1,3]") && contains(message, "float[2,2]"))
      << message;
  EXPECT_EQ(wrong, std::vector<float>(4, 7.0f));
}

TEST(CApiTest, FreeDimensionOverrideAndThreadOption) {
  tessera_session_options* options = nullptr;
  ASSERT_EQ(tessera_session_options_create(&options), TESSERA_OK);
  EXPECT_EQ(tessera_session_options_set_intra_op_threads(options, 1), TESSERA_OK);
  EXPECT_EQ(tessera_session_options_set_intra_op_threads(options, -2), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(tessera_session_options_set_optimization_level(options, TESSERA_OPTIMIZATION_BASIC), TESSERA_OK);
  EXPECT_EQ(tessera_session_options_add_free_dimension_override(options, "batch", 4), TESSERA_OK);
  EXPECT_EQ(tessera_session_options_set_optimized_model_filepath(options, nullptr), TESSERA_OK);
  SessionPtr session = relu_session(options);
  tessera_session_options_destroy(options);
  int32_t type = 0;
  int64_t rank = 0;
  const int64_t* dims = nullptr;
  ASSERT_EQ(tessera_session_io_type(session.get(), TESSERA_IO_INPUT, 0, &type, &rank, &dims), TESSERA_OK);
  EXPECT_EQ(dims[0], 4);
  std::vector<float> x(6, 1.0f);
  TensorPtr input = wrap(x, {2, 3});
  const char* names[] = {"x"};
  const tessera_tensor* inputs[] = {input.get()};
  tessera_tensor* output = nullptr;
  EXPECT_EQ(tessera_session_run(session.get(), names, inputs, 1, nullptr, 1, &output), TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tessera_last_error_message(), "'x'")) << tessera_last_error_message();
  EXPECT_EQ(output, nullptr);
}

TEST(CApiTest, OptimizedModelIsWrittenAndLoads) {
  const std::string path = ::testing::TempDir() + "c_api_optimized.onnx";
  std::remove(path.c_str());
  tessera_session_options* options = nullptr;
  ASSERT_EQ(tessera_session_options_create(&options), TESSERA_OK);
  ASSERT_EQ(tessera_session_options_set_optimized_model_filepath(options, path.c_str()), TESSERA_OK);
  SessionPtr session = relu_session(options);
  tessera_session_options_destroy(options);
  tessera_session* reloaded = nullptr;
  ASSERT_EQ(tessera_session_create(path.c_str(), nullptr, &reloaded), TESSERA_OK) << tessera_last_error_message();
  SessionPtr owned(reloaded);
  const char* name = nullptr;
  ASSERT_EQ(tessera_session_io_name(reloaded, TESSERA_IO_OUTPUT, 0, &name), TESSERA_OK);
  EXPECT_STREQ(name, "y");
  std::remove(path.c_str());
}

TEST(CApiTest, BadInputsAreStatusesWithMessages) {
  tessera_session* session = nullptr;
  EXPECT_EQ(tessera_session_create("/nonexistent/model.onnx", nullptr, &session), TESSERA_IO_ERROR);
  EXPECT_TRUE(contains(tessera_last_error_message(), "/nonexistent/model.onnx"));
  const std::string garbage = "\x08\x07 not a model \xff\xff";
  EXPECT_EQ(tessera_session_create_from_bytes(garbage.data(), garbage.size(), nullptr, &session),
            TESSERA_INVALID_MODEL);
  EXPECT_EQ(session, nullptr);
  EXPECT_EQ(tessera_session_create(nullptr, nullptr, &session), TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tessera_last_error_message(), "model_path"));

  SessionPtr relu = relu_session();
  std::vector<float> x(3, 1.0f);
  TensorPtr input = wrap(x, {1, 3});
  const tessera_tensor* inputs[] = {input.get()};
  tessera_tensor* output = nullptr;
  const char* unknown[] = {"z"};
  EXPECT_EQ(tessera_session_run(relu.get(), unknown, inputs, 1, nullptr, 1, &output), TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tessera_last_error_message(), "'z'"));
  const char* names[] = {"x"};
  EXPECT_EQ(tessera_session_run(relu.get(), names, inputs, 1, nullptr, 2, &output), TESSERA_INVALID_ARGUMENT);
  int64_t dims[] = {1, 3};
  double doubles[3] = {1, 2, 3};
  tessera_tensor* wrong_type = nullptr;
  ASSERT_EQ(tessera_tensor_wrap(TESSERA_ELEMENT_DOUBLE, dims, 2, doubles, sizeof(doubles), &wrong_type), TESSERA_OK);
  TensorPtr wrong(wrong_type);
  const tessera_tensor* wrong_inputs[] = {wrong_type};
  EXPECT_EQ(tessera_session_run(relu.get(), names, wrong_inputs, 1, nullptr, 1, &output), TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tessera_last_error_message(), "double")) << tessera_last_error_message();
  tessera_tensor* small = nullptr;
  EXPECT_EQ(tessera_tensor_wrap(TESSERA_ELEMENT_FLOAT, dims, 2, x.data(), 2 * sizeof(float), &small),
            TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(tessera_tensor_create(8, dims, 2, &small), TESSERA_INVALID_ARGUMENT);  // strings
  EXPECT_EQ(tessera_tensor_create(99, dims, 2, &small), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(small, nullptr);
  tessera_session_destroy(nullptr);
  tessera_tensor_destroy(nullptr);
}

TEST(CApiTest, MapOutputsAreRefusedByNameAndKindWhileTensorOutputsRun) {
  const std::string bytes = zip_map_model();
  tessera_session* created = nullptr;
  ASSERT_EQ(tessera_session_create_from_bytes(bytes.data(), bytes.size(), nullptr, &created), TESSERA_OK)
      << tessera_last_error_message();
  SessionPtr session(created);
  int32_t element_type = -1;
  int64_t rank = 0;
  const int64_t* dims = nullptr;
  ASSERT_EQ(tessera_session_io_type(session.get(), TESSERA_IO_OUTPUT, 0, &element_type, &rank, &dims), TESSERA_OK);
  EXPECT_EQ(element_type, 0);
  EXPECT_EQ(rank, -1);
  std::vector<float> x{0.25f, 0.75f};
  TensorPtr input = wrap(x, {1, 2});
  const tessera_tensor* inputs[] = {input.get()};
  const char* names[] = {"x"};
  tessera_tensor* outputs[2] = {nullptr, nullptr};
  EXPECT_EQ(tessera_session_run(session.get(), names, inputs, 1, nullptr, 2, outputs), TESSERA_UNSUPPORTED);
  EXPECT_TRUE(contains(tessera_last_error_message(), "output 'p' is seq(map(int64,float))[1], not a tensor"))
      << tessera_last_error_message();
  EXPECT_EQ(outputs[0], nullptr);
  const char* tensor_only[] = {"y"};
  ASSERT_EQ(tessera_session_run(session.get(), names, inputs, 1, tensor_only, 1, outputs), TESSERA_OK)
      << tessera_last_error_message();
  TensorPtr y(outputs[0]);
  void* data = nullptr;
  size_t byte_size = 0;
  ASSERT_EQ(tessera_tensor_data(y.get(), &data, &byte_size), TESSERA_OK);
  EXPECT_EQ(std::vector<float>(static_cast<float*>(data), static_cast<float*>(data) + 2), x);
}

TEST(CApiTest, LastErrorIsPerThreadAndClearedBySuccess) {
  tessera_session* session = nullptr;
  EXPECT_EQ(tessera_session_create(nullptr, nullptr, &session), TESSERA_INVALID_ARGUMENT);
  std::string other_thread_message = "unset";
  std::thread([&] { other_thread_message = tessera_last_error_message(); }).join();
  EXPECT_EQ(other_thread_message, "");
  EXPECT_NE(std::string(tessera_last_error_message()), "");
  int32_t type = 0;
  tessera_tensor* t = nullptr;
  int64_t dims[] = {2};
  ASSERT_EQ(tessera_tensor_create(TESSERA_ELEMENT_INT64, dims, 1, &t), TESSERA_OK);
  EXPECT_EQ(tessera_tensor_element_type(t, &type), TESSERA_OK);
  EXPECT_EQ(type, TESSERA_ELEMENT_INT64);
  EXPECT_STREQ(tessera_last_error_message(), "");
  tessera_tensor_destroy(t);
}

}  // namespace
