// Helpers shared by the loader, hostile-model, CLI, IR and runtime tests: building ModelProto messages with the
// generated classes, hand-encoding protobuf wire bytes, temporary folders, and running the `tessera` binary.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "onnx.pb.h"

namespace tessera::testing {

// A dimension of a declared shape: a size or a symbol ("batch").
using DimSpec = std::variant<int64_t, std::string>;

inline onnx::ModelProto make_model(int64_t opset = 17, int64_t ir_version = 8) {
  onnx::ModelProto model;
  model.set_ir_version(ir_version);
  model.set_producer_name("tessera-tests");
  auto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model.mutable_graph()->set_name("test_graph");
  return model;
}

inline void set_tensor_type(onnx::TypeProto* type, int32_t elem_type, const std::vector<DimSpec>* dims) {
  auto* tensor = type->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  if (dims == nullptr) return;
  auto* shape = tensor->mutable_shape();
  for (const DimSpec& d : *dims) {
    auto* dim = shape->add_dim();
    if (std::holds_alternative<int64_t>(d))
      dim->set_dim_value(std::get<int64_t>(d));
    else
      dim->set_dim_param(std::get<std::string>(d));
  }
}

// Declares a graph input of a tensor type with the given dims.
inline onnx::ValueInfoProto* add_input(onnx::GraphProto* graph, const std::string& name, int32_t elem_type,
                                       const std::vector<DimSpec>& dims) {
  auto* vi = graph->add_input();
  vi->set_name(name);
  set_tensor_type(vi->mutable_type(), elem_type, &dims);
  return vi;
}

// Declares a graph output; with `has_shape` false only the element type is declared.
inline onnx::ValueInfoProto* add_output(onnx::GraphProto* graph, const std::string& name, int32_t elem_type,
                                        const std::vector<DimSpec>& dims = {}, bool has_shape = false) {
  auto* vi = graph->add_output();
  vi->set_name(name);
  set_tensor_type(vi->mutable_type(), elem_type, has_shape ? &dims : nullptr);
  return vi;
}

inline onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op_type,
                                 const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                                 const std::string& name = {}, const std::string& domain = {}) {
  auto* node = graph->add_node();
  node->set_op_type(op_type);
  node->set_name(name.empty() ? op_type + "_" + std::to_string(graph->node_size()) : name);
  if (!domain.empty()) node->set_domain(domain);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& out : outputs) node->add_output(out);
  return node;
}

inline onnx::AttributeProto* add_int_attribute(onnx::NodeProto* node, const std::string& name, int64_t value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
  return a;
}

inline onnx::AttributeProto* add_ints_attribute(onnx::NodeProto* node, const std::string& name,
                                                const std::vector<int64_t>& values) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
  return a;
}

inline onnx::AttributeProto* add_float_attribute(onnx::NodeProto* node, const std::string& name, float value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
  return a;
}

// A float initializer using float_data.
inline onnx::TensorProto* add_float_initializer(onnx::GraphProto* graph, const std::string& name,
                                                const std::vector<int64_t>& dims, const std::vector<float>& values) {
  auto* t = graph->add_initializer();
  t->set_name(name);
  t->set_data_type(1 /* float */);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return t;
}

inline onnx::TensorProto* add_int64_initializer(onnx::GraphProto* graph, const std::string& name,
                                                const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  auto* t = graph->add_initializer();
  t->set_name(name);
  t->set_data_type(7 /* int64 */);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
  return t;
}

// x: float[2,3], y: float[2,3] -> z = Add(x, y). The model most hostile-feed and CLI tests run.
inline onnx::ModelProto make_add_model(int64_t opset = 17) {
  onnx::ModelProto model = make_model(opset);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}, int64_t{3}});
  add_input(g, "y", 1, {int64_t{2}, int64_t{3}});
  add_node(g, "Add", {"x", "y"}, {"z"}, "add");
  add_output(g, "z", 1, {int64_t{2}, int64_t{3}}, true);
  return model;
}

inline std::string serialize(const onnx::ModelProto& model) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw std::runtime_error("cannot serialize a test model");
  return bytes;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw std::runtime_error("cannot write " + path);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/tessera-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Hand encoding of protobuf wire bytes, for messages the generated API cannot build (or would refuse to).
namespace wire {
enum WireType { kVarint = 0, kFixed64 = 1, kLength = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

inline std::string varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
  return out;
}
inline std::string key(uint32_t field, int wire_type) {
  return varint((uint64_t{field} << 3) | static_cast<uint32_t>(wire_type));
}
inline std::string varint_field(uint32_t field, uint64_t value) { return key(field, kVarint) + varint(value); }
inline std::string length_field(uint32_t field, const std::string& payload) {
  return key(field, kLength) + varint(payload.size()) + payload;
}
}  // namespace wire

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

struct ProcessResult {
  int exit_code = -1;  // the process's exit status; 128 + N when killed by signal N
  std::string out;
  std::string err;
};

// Runs `command` with /bin/sh, capturing stdout and stderr.
inline ProcessResult run_shell(const std::string& command) {
  TempDir capture;
  const std::string full = "(" + command + ") >" + capture.file("out") + " 2>" + capture.file("err") + " </dev/null";
  const int status = std::system(full.c_str());
  ProcessResult result;
  if (status == -1)
    result.exit_code = -1;
  else if (WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.exit_code = 128 + WTERMSIG(status);
  result.out = read_bytes(capture.file("out"));
  result.err = read_bytes(capture.file("err"));
  return result;
}

// True in the sanitizer builds of scripts/sanitize.sh (clang's ASan or TSan), where an address-space limit
// cannot be set (the sanitizers reserve terabytes of shadow memory) and allocations cost more.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TESSERA_TESTS_UNDER_SANITIZER 1
#endif
#endif
#ifdef TESSERA_TESTS_UNDER_SANITIZER
constexpr bool kUnderSanitizer = true;
#else
constexpr bool kUnderSanitizer = false;
#endif

#ifdef TESSERA_CLI_PATH
// Runs the `tessera` binary with `args`. With `confined`, under a 4 GiB address-space limit and a 20 s timeout
// (exit 124 when the timeout struck), as the hostile-model tests require; under a sanitizer the 4 GiB bound is
// ASan's resident-memory limit instead (the process is killed past it, not refused an allocation) and the
// timeout 180 s.
inline ProcessResult run_cli(const std::vector<std::string>& args, bool confined = false) {
  std::string command;
  if (confined && kUnderSanitizer) {
    command = "ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:hard_rss_limit_mb=4096\" exec timeout 180 ";  // ~5x slower there
  }
  if (confined && !kUnderSanitizer) command = "ulimit -v 4194304 && exec timeout 20 ";
  command += shell_quote(TESSERA_CLI_PATH);
  for (const std::string& a : args) command += " " + shell_quote(a);
  return run_shell(command);
}
#endif

// A NumPy .npy (version 1.0) holding float32 or int64 data, for CLI inputs.
template <typename T>
std::string make_npy(const std::string& descr, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    shape_text += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  shape_text += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>((header.size() >> 8) & 0xFF);
  out += header;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return out;
}

}  // namespace tessera::testing
