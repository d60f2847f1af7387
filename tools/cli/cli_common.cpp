#include "cli_common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "onnx/model_loader.h"
#include "map_json.h"
#include "npy.h"
#include "onnx/tensor_proto.h"

namespace tessera::cli {

Arguments::Arguments(const std::vector<std::string>& args, const std::vector<std::string>& value_flags,
                     const std::vector<std::string>& switch_flags) {
  auto contains = [](const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string flag = a;
    std::optional<std::string> inline_value;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      flag = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    if (contains(value_flags, flag)) {
      if (inline_value)
        flags_.emplace(flag, *inline_value);
      else if (i + 1 < args.size())
        flags_.emplace(flag, args[++i]);
      else
        throw UsageError{flag + " needs a value"};
    } else if (contains(switch_flags, flag) && !inline_value) {
      flags_.emplace(flag, "");
    } else {
      throw UsageError{"unknown option " + a};
    }
  }
}

std::optional<std::string> Arguments::value(const std::string& flag) const {
  auto it = flags_.find(flag);
  if (it == flags_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Arguments::values(const std::string& flag) const {
  std::vector<std::string> out;
  auto [begin, end] = flags_.equal_range(flag);
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(ErrorCode::kIo, "cannot open '", path, "'");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary);
  if (!file) fail(ErrorCode::kIo, "cannot write '", path, "'");
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file) fail(ErrorCode::kIo, "cannot write '", path, "'");
}

RuntimeValue load_value_file(const std::string& path, const TypeInfo& type) {
  const std::string bytes = read_file(path);
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0)
    return RuntimeValue(tensor_from_npy(bytes, path));
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return map_from_json(bytes, type, path);
  return value_from_bytes(bytes, type);
}

namespace {
std::string summarize_tensor(const Tensor& t) {
  std::ostringstream out;
  out << t.description();
  if (t.element_count() == 0) return out.str();
  constexpr int64_t kShown = 6;
  if (t.dtype() == DType::kString) {
    out << " values:";
    for (int64_t i = 0; i < std::min(kShown, t.element_count()); ++i) out << " \"" << t.data<std::string>()[i] << "\"";
    return out.str();
  }
  if (t.dtype() == DType::kComplex64 || t.dtype() == DType::kComplex128) return out.str();
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  std::ostringstream first;
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, std::complex<float>> &&
                  !std::is_same_v<T, std::complex<double>>) {
      for (int64_t i = 0; i < t.element_count(); ++i) {
        const double v = element_to_double(t.data<T>()[i]);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        sum += v;
        if (i < kShown) first << " " << v;
      }
    }
  });
  out << " min " << lo << " max " << hi << " mean " << sum / static_cast<double>(t.element_count())
      << " first:" << first.str() << (t.element_count() > kShown ? " ..." : "");
  return out.str();
}
}  // namespace

std::string summarize_value(const RuntimeValue& value) {
  if (value.is_tensor()) return (value.is_optional() ? "optional " : "") + summarize_tensor(value.tensor());
  if (value.is_sequence()) {
    std::string out = value.description();
    for (size_t i = 0; i < value.sequence_tensors().size() && i < 3; ++i)
      out += "\n    [" + std::to_string(i) + "] " + summarize_tensor(value.sequence_tensors()[i]);
    return out;
  }
  if (value.is_map()) return value.description() + " " + map_to_json(value);
  if (value.is_map_sequence()) {
    constexpr size_t kShownMaps = 5;
    std::string out = value.description();
    const std::vector<MapValue>& maps = value.maps();
    for (size_t i = 0; i < maps.size() && i < kShownMaps; ++i) {
      out += "\n    [" + std::to_string(i) + "] " + map_to_json(RuntimeValue::map(maps[i]));
    }
    if (maps.size() > kShownMaps) out += "\n    ... " + std::to_string(maps.size() - kShownMaps) + " more";
    return out;
  }
  return value.description();
}

int exit_code_for_load_error(int error_code) {
  const auto code = static_cast<ErrorCode>(error_code);
  if (code == ErrorCode::kInvalidModel || code == ErrorCode::kUnsupported || code == ErrorCode::kOutOfMemory) {
    return kExitModelRejected;
  }
  return code == ErrorCode::kIo ? kExitModelRejected : kExitRunError;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

int report_load_error(const Error& e) {
  std::fprintf(stderr, "tessera: cannot load model [%s]: %s\n", error_code_name(e.code()), e.what());
  return exit_code_for_load_error(static_cast<int>(e.code()));
}

std::optional<int> load_model_or_report(const std::string& path, Model& model) {
  try {
    model = load_model(path);
  } catch (const Error& e) {
    return report_load_error(e);
  }
  return std::nullopt;
}

uint64_t external_data_threshold_flag(const Arguments& arguments) {
  const auto text = arguments.value("--external-data-threshold");
  return text ? static_cast<uint64_t>(parse_integer("--external-data-threshold", *text, 0)) : 0;
}

OptimizationLevel opt_level_argument(const std::string& text) {
  try {
    return parse_optimization_level(text);
  } catch (const Error& e) {
    throw UsageError{std::string("--opt-level: ") + e.what()};
  }
}

MatMulPrecision precision_argument(const std::string& flag, const std::string& text) {
  if (text == "fp32" || text == "float32") return MatMulPrecision::kFloat32;
  if (text == "bf16" || text == "bfloat16") return MatMulPrecision::kBFloat16;
  throw UsageError{flag + " expects fp32 or bf16, got '" + text + "'"};
}

int64_t parse_integer(const std::string& flag, const std::string& text, int64_t minimum) {
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum) {
    throw UsageError{flag + " needs an integer >= " + std::to_string(minimum) + ", got '" + text + "'"};
  }
  return value;
}

std::vector<std::string> with_limit_flags(std::vector<std::string> flags) {
  for (const char* flag : {"--max-tensor-bytes", "--max-live-bytes", "--max-loop-iterations", "--max-graph-depth",
                           "--max-model-bytes", "--timeout-ms"}) {
    flags.emplace_back(flag);
  }
  return flags;
}

void apply_limit_flags(const Arguments& arguments, ResourceLimits& limits) {
  if (auto v = arguments.value("--max-tensor-bytes")) {
    limits.max_tensor_bytes = static_cast<uint64_t>(parse_integer("--max-tensor-bytes", *v, 0));
  }
  if (auto v = arguments.value("--max-live-bytes")) {
    limits.max_live_bytes = static_cast<uint64_t>(parse_integer("--max-live-bytes", *v, 0));
  }
  if (auto v = arguments.value("--max-loop-iterations")) {
    limits.max_loop_iterations = parse_integer("--max-loop-iterations", *v, 0);
  }
  if (auto v = arguments.value("--max-graph-depth")) limits.max_graph_depth = parse_integer("--max-graph-depth", *v, 0);
  if (auto v = arguments.value("--max-model-bytes")) {
    limits.max_model_bytes = static_cast<uint64_t>(parse_integer("--max-model-bytes", *v, 0));
  }
}

int64_t timeout_ms_flag(const Arguments& arguments) {
  const auto v = arguments.value("--timeout-ms");
  return v ? parse_integer("--timeout-ms", *v, 0) : 0;
}

}  // namespace tessera::cli
