// Shared pieces of the `tessera` command line: exit codes, argument access, value files and printing.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/runtime_value.h"
#include "ir/model.h"
#include "ir/type_info.h"
#include "ops/kernel.h"
#include "ops/run_guard.h"
#include "passes/pass.h"

namespace tessera::cli {

// Exit codes of every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRunError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitModelRejected = 3;

// Thrown for command-line misuse; main() prints it with the usage and exits with kExitUsage.
struct UsageError {
  std::string message;
};

// The value of an --opt-level flag (disabled, basic, extended, all or 0..3); a UsageError naming the flag
// otherwise.
OptimizationLevel opt_level_argument(const std::string& text);

// The value of a --precision flag (fp32 / float32, or bf16 / bfloat16: SessionOptions::matmul_precision); a
// UsageError naming `flag` otherwise.
MatMulPrecision precision_argument(const std::string& flag, const std::string& text);

// Simple argument list: positional arguments and --flag [value] pairs (repeatable flags keep every value).
class Arguments {
 public:
  // `value_flags` take a value; `switch_flags` do not. Anything else starting with "--" is a UsageError.
  Arguments(const std::vector<std::string>& args, const std::vector<std::string>& value_flags,
            const std::vector<std::string>& switch_flags);
  const std::vector<std::string>& positional() const { return positional_; }
  std::optional<std::string> value(const std::string& flag) const;
  std::vector<std::string> values(const std::string& flag) const;
  bool has(const std::string& flag) const { return flags_.count(flag) != 0; }

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> flags_;
};

// A whole-string integer >= `minimum`, or a UsageError naming the flag.
int64_t parse_integer(const std::string& flag, const std::string& text, int64_t minimum);

// `flags` followed by the resource-limit flags run and bench take: --max-tensor-bytes, --max-live-bytes,
// --max-loop-iterations, --max-graph-depth, --max-model-bytes and --timeout-ms.
std::vector<std::string> with_limit_flags(std::vector<std::string> flags);
// Applies the limit flags given in `arguments` to `limits`; a UsageError for a value that is not an integer >= 0.
void apply_limit_flags(const Arguments& arguments, ResourceLimits& limits);
// --timeout-ms N (each run's deadline in milliseconds), 0 when absent.
int64_t timeout_ms_flag(const Arguments& arguments);

// The non-empty items of a comma-separated flag value ("MatMul,Gemm").
std::vector<std::string> split_commas(const std::string& text);

// Reads a whole file; throws Error(kIo) naming it.
std::string read_file(const std::string& path);
// Writes a whole file; throws Error(kIo) naming it.
void write_file(const std::string& path, const std::string& bytes);

// Loads a value for an input of type `type` from a .npy file, a .json file (map inputs, see map_json.h) or a .pb
// (TensorProto/SequenceProto/OptionalProto).
RuntimeValue load_value_file(const std::string& path, const TypeInfo& type);

// "float[1,1000] min -3.2 max 4.1 mean 0.01 first: 0.1 0.2 ..." — a one-line summary of a value; maps print as
// JSON, sequences of maps one map (of the first five) per line.
std::string summarize_value(const RuntimeValue& value);

// Maps an Error code to the exit code: load-time rejections (invalid model, unsupported) give 3.
int exit_code_for_load_error(int error_code);
// Prints "tessera: cannot load model [CODE]: message" to stderr and returns exit_code_for_load_error's code.
int report_load_error(const Error& e);
// Loads `path` into `model` (onnx/model_loader.h); on a load error prints it as report_load_error and returns its
// exit code, else nullopt: `if (const auto code = load_model_or_report(in, model)) return *code;`.
std::optional<int> load_model_or_report(const std::string& path, Model& model);

// --external-data-threshold BYTES (optimize, quantize): initializers of at least BYTES go to OUTPUT.data; 0 when
// absent (everything inline unless the model would pass 2 GiB). A UsageError for a value that is not a count.
uint64_t external_data_threshold_flag(const Arguments& arguments);

}  // namespace tessera::cli
