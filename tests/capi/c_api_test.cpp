// The C API against libtessera.so alone: versions, sessions from a path and from bytes, input/output
// descriptions with symbolic dims, free-dimension overrides, runs returning tensors or writing caller buffers,
// and every failure reported as a status with a message (no exception crosses, no crash on bad input).
#include "tessera/c_api.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
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

// Packed float_data of `values` (TensorProto field 4).
std::string packed_floats(const std::vector<float>& values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return field(4, bytes);
}

// x: float[3]; w (initializer 1, 2, 3) -> from_w = Identity(w), from_x = Identity(x).
std::string identity_model() {
  const std::string w = field(1, uint64_t{3}) + field(2, uint64_t{1}) + packed_floats({1, 2, 3}) + field(8, "w");
  const std::string identity_w = field(1, "w") + field(2, "from_w") + field(3, "iw") + field(4, "Identity");
  const std::string identity_x = field(1, "x") + field(2, "from_x") + field(3, "ix") + field(4, "Identity");
  const std::string graph = field(1, identity_w) + field(1, identity_x) + field(2, "g") + field(5, w) +
                            field(11, float_value_info("x", {3}, "")) + field(12, float_value_info("from_w", {3}, "")) +
                            field(12, float_value_info("from_x", {3}, ""));
  return field(1, uint64_t{8}) + field(8, field(2, uint64_t{17})) + field(7, graph);
}

std::vector<float> floats_of(tessera_tensor* tensor) {
  void* data = nullptr;
  size_t bytes = 0;
  EXPECT_EQ(tessera_tensor_data(tensor, &data, &bytes), TESSERA_OK);
  return std::vector<float>(static_cast<float*>(data), static_cast<float*>(data) + bytes / sizeof(float));
}

// A caller who writes into outputs that pass an initializer or a feed through changes neither.
TEST(CApiTest, WritingIntoOutputsChangesNeitherWeightsNorFeeds) {
  const std::string bytes = identity_model();
  tessera_session* raw = nullptr;
  ASSERT_EQ(tessera_session_create_from_bytes(bytes.data(), bytes.size(), nullptr, &raw), TESSERA_OK)
      << tessera_last_error_message();
  SessionPtr session(raw);
  std::vector<float> x = {7, 8, 9};
  TensorPtr input = wrap(x, {3});
  const char* names[] = {"x"};
  const tessera_tensor* inputs[] = {input.get()};
  for (int run = 0; run < 3; ++run) {
    tessera_tensor* outputs[2] = {nullptr, nullptr};
    ASSERT_EQ(tessera_session_run(session.get(), names, inputs, 1, nullptr, 2, outputs), TESSERA_OK)
        << tessera_last_error_message();
    TensorPtr from_w(outputs[0]), from_x(outputs[1]);
    EXPECT_EQ(floats_of(from_w.get()), (std::vector<float>{1, 2, 3})) << "run " << run;
    EXPECT_EQ(floats_of(from_x.get()), (std::vector<float>{7, 8, 9})) << "run " << run;
    for (tessera_tensor* out : outputs) {
      void* data = nullptr;
      size_t size = 0;
      ASSERT_EQ(tessera_tensor_data(out, &data, &size), TESSERA_OK);
      EXPECT_NE(data, static_cast<void*>(x.data()));
      std::memset(data, 0xff, size);
    }
    EXPECT_EQ(x, (std::vector<float>{7, 8, 9})) << "the caller's input changed through an output";
  }
}

// ValueInfoProto of a tensor of `elem_type` with known `dims` (none: a scalar).
std::string typed_value_info(const std::string& name, uint64_t elem_type, const std::vector<uint64_t>& dims) {
  std::string shape;
  for (uint64_t d : dims) shape += field(1, field(1, d));
  return field(1, name) + field(2, field(1, field(1, elem_type) + field(2, shape)));
}

std::string node(const std::vector<std::string>& inputs, const std::string& output, const std::string& name,
                 const std::string& op_type, const std::string& attributes = {}) {
  std::string bytes;
  for (const std::string& in : inputs) bytes += field(1, in);
  return bytes + field(2, output) + field(3, name) + field(4, op_type) + attributes;
}

// limit: int64 scalar -> v = Loop(no trip count, cond true, v0 = 0) whose body adds 1 to v while i < limit.
std::string counting_loop_model() {
  const std::string one = field(1, uint64_t{1}) + field(2, uint64_t{1}) + packed_floats({1}) + field(8, "one");
  const std::string body = field(1, node({"i", "limit"}, "cond_out", "keep_going", "Less")) +
                           field(1, node({"v_in", "one"}, "v_out", "increment", "Add")) + field(2, "body") +
                           field(5, one) + field(11, typed_value_info("i", 7, {})) +
                           field(11, typed_value_info("cond_in", 9, {})) + field(11, typed_value_info("v_in", 1, {1})) +
                           field(12, typed_value_info("cond_out", 9, {})) +
                           field(12, typed_value_info("v_out", 1, {1}));
  const std::string body_attribute = field(5, field(1, "body") + field(6, body) + field(20, uint64_t{5}));
  const std::string v0 = field(1, uint64_t{1}) + field(2, uint64_t{1}) + packed_floats({0}) + field(8, "v0");
  const std::string go = field(2, uint64_t{9}) + field(5, uint64_t{1}) + field(8, "go");
  const std::string graph = field(1, node({"", "go", "v0"}, "v", "loop", "Loop", body_attribute)) + field(2, "g") +
                            field(5, v0) + field(5, go) + field(11, typed_value_info("limit", 7, {})) +
                            field(12, typed_value_info("v", 1, {1}));
  return field(1, uint64_t{8}) + field(8, field(2, uint64_t{17})) + field(7, graph);
}

SessionPtr session_from(const std::string& bytes, const tessera_session_options* options) {
  tessera_session* session = nullptr;
  EXPECT_EQ(tessera_session_create_from_bytes(bytes.data(), bytes.size(), options, &session), TESSERA_OK)
      << tessera_last_error_message();
  return SessionPtr(session);
}

// Runs the counting loop up to `limit`; returns the status (and v in `result` when it ran).
tessera_status run_loop(const tessera_session* session, const tessera_run_options* run_options, int64_t limit,
                        float* result) {
  const int64_t scalar[1] = {0};
  tessera_tensor* input = nullptr;
  EXPECT_EQ(tessera_tensor_wrap(TESSERA_ELEMENT_INT64, scalar, 0, &limit, sizeof limit, &input), TESSERA_OK);
  TensorPtr owned_input(input);
  const char* names[] = {"limit"};
  const tessera_tensor* inputs[] = {input};
  tessera_tensor* output = nullptr;
  const tessera_status status =
      tessera_session_run_with_options(session, run_options, names, inputs, 1, nullptr, 1, &output);
  if (status == TESSERA_OK) {
    TensorPtr owned(output);
    *result = floats_of(output)[0];
  }
  return status;
}

TEST(CApiTest, RunTimeoutStopsAnEndlessLoopAndTheSessionRunsAgain) {
  SessionPtr session = session_from(counting_loop_model(), nullptr);
  tessera_run_options* raw = nullptr;
  ASSERT_EQ(tessera_run_options_create(&raw), TESSERA_OK);
  std::unique_ptr<tessera_run_options, void (*)(tessera_run_options*)> run_options(raw, tessera_run_options_destroy);
  EXPECT_EQ(tessera_run_options_set_timeout_ms(raw, -1), TESSERA_INVALID_ARGUMENT);
  ASSERT_EQ(tessera_run_options_set_timeout_ms(raw, 200), TESSERA_OK);
  float v = -1;
  EXPECT_EQ(run_loop(session.get(), raw, INT64_MAX, &v), TESSERA_RUNTIME_ERROR);
  EXPECT_TRUE(contains(tessera_last_error_message(), "deadline")) << tessera_last_error_message();
  ASSERT_EQ(run_loop(session.get(), raw, 5, &v), TESSERA_OK) << tessera_last_error_message();
  EXPECT_EQ(v, 6.0f);
  ASSERT_EQ(tessera_run_options_set_terminate(raw, 1), TESSERA_OK);
  EXPECT_EQ(run_loop(session.get(), raw, 5, &v), TESSERA_RUNTIME_ERROR);
  EXPECT_TRUE(contains(tessera_last_error_message(), "terminated")) << tessera_last_error_message();
}

TEST(CApiTest, ResourceLimitsAreSessionOptions) {
  tessera_session_options* raw = nullptr;
  ASSERT_EQ(tessera_session_options_create(&raw), TESSERA_OK);
  std::unique_ptr<tessera_session_options, void (*)(tessera_session_options*)> options(raw,
                                                                                       tessera_session_options_destroy);
  ASSERT_EQ(tessera_session_options_set_limit(raw, TESSERA_LIMIT_MAX_LOOP_ITERATIONS, 100), TESSERA_OK);
  EXPECT_EQ(tessera_session_options_set_limit(raw, TESSERA_LIMIT_MAX_GRAPH_DEPTH, UINT64_MAX),
            TESSERA_INVALID_ARGUMENT);
  SessionPtr session = session_from(counting_loop_model(), raw);
  float v = -1;
  EXPECT_EQ(run_loop(session.get(), nullptr, INT64_MAX, &v), TESSERA_RUNTIME_ERROR);
  EXPECT_TRUE(contains(tessera_last_error_message(), "max_loop_iterations (100)")) << tessera_last_error_message();
  ASSERT_EQ(tessera_session_options_set_limit(raw, TESSERA_LIMIT_MAX_MODEL_BYTES, 10), TESSERA_OK);
  const std::string bytes = counting_loop_model();
  tessera_session* refused = nullptr;
  EXPECT_EQ(tessera_session_create_from_bytes(bytes.data(), bytes.size(), raw, &refused), TESSERA_INVALID_MODEL);
  EXPECT_TRUE(contains(tessera_last_error_message(), "max_model_bytes (10)")) << tessera_last_error_message();
}

TEST(CApiTest, MatMulPrecisionIsASessionOption) {
  tessera_session_options* raw = nullptr;
  ASSERT_EQ(tessera_session_options_create(&raw), TESSERA_OK);
  std::unique_ptr<tessera_session_options, void (*)(tessera_session_options*)> options(raw,
                                                                                       tessera_session_options_destroy);
  EXPECT_EQ(tessera_session_options_set_matmul_precision(raw, TESSERA_MATMUL_PRECISION_BF16), TESSERA_OK);
  EXPECT_EQ(tessera_session_options_set_matmul_precision(raw, static_cast<tessera_matmul_precision>(7)),
            TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tessera_last_error_message(), "matmul precision")) << tessera_last_error_message();
  EXPECT_EQ(tessera_session_options_set_matmul_precision(nullptr, TESSERA_MATMUL_PRECISION_FP32),
            TESSERA_INVALID_ARGUMENT);
  SessionPtr session = session_from(counting_loop_model(), raw);  // a session with no MatMul runs as before
  float v = -1;
  ASSERT_EQ(run_loop(session.get(), nullptr, 5, &v), TESSERA_OK) << tessera_last_error_message();
  EXPECT_EQ(v, 6.0f);
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
