// The `tessera` command line: run, info, bench, optimize, quantize, convert-fp16, convert-opset, compare, check, conformance, serve.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"

namespace {

constexpr const char* kUsage = R"(usage: tessera <command> [options]

commands (every command that optimizes a model takes --opt-level disabled|basic|extended|all, default all
(optimize: basic), and --disable-pass NAME, repeatable):
  run MODEL [--input-dir DIR | --input NAME=FILE.npy|FILE.pb|FILE.json ... | --random-inputs]
            [--output-dir DIR] [--threads N] [--opt-level disabled|basic|extended|all] [--repeat N]
            [--profile FILE] [--precision fp32|bf16] [limits]
      Runs the model once (or N times) and prints every output and the latency; maps print as JSON.
      --output-dir saves output_K.pb (output_K.json for maps); a .json input feeds a map input.
  info MODEL
      Prints IR version, opsets, producer, inputs/outputs, op histogram and unsupported ops.
  bench MODEL [--input NAME=FILE.npy|FILE.pb ...] [--dim NAME=VALUE ...] [--batch N] [--threads N]
              [--warmup N] [--iters N] [--duration S] [--opt-level L] [--json] [--profile FILE]
              [--precision fp32|bf16] [limits]
      Measures latency like onnxruntime_perf_test: session creation, N warm-up runs (default 5), then timed
      runs (default 100 or 10 s, whichever first); prints p50/p90/p99/mean/min/max, peak memory and the CPU.
      Inputs not given are generated (floats in [-1,1]; "mask" ints are ones, other ints in [0,4));
      unbound symbolic dims are 1 unless set by --dim or (first dim) --batch.
  optimize MODEL OUTPUT [--opt-level L] [--disable-pass NAME ...] [--external-data-threshold BYTES] [--verbose]
      Optimizes the graph (default level basic: standard ONNX ops only, runnable by any runtime) and writes it;
      --verbose lists what each pass changed. Initializers of BYTES and more go to OUTPUT.data.
  quantize MODEL OUTPUT [--mode dynamic|static] [--weight-type int8|uint8] [--per-channel] [--reduce-range]
           [--symmetric-weights | --asymmetric-weights] [--op-types OP,...] [--include-node NAME ...]
           [--exclude-node NAME ...] [--no-preprocess] [--external-data-threshold BYTES] [--verbose]
           static: --calibrate DIR [--calibration-method minmax|percentile|entropy] [--percentile P]
           [--moving-average] [--activation-type int8|uint8] [--symmetric-activations] [--quant-format qdq|qoperator]
           [--validate DIR [--max-drop 1%] [--metric top1|l2] [--report FILE.html]]
      Dynamic (default): as onnxruntime's quantize_dynamic: constant MatMul/Gemm weights become int8 (symmetric) or
      uint8, activations uint8 at run time (DynamicQuantizeLinear -> MatMulInteger); com.microsoft Attention
      becomes QAttention and LSTM DynamicQuantizeLSTM (int8 W and R); a GRU (or an LSTM of layout 1) reads 8-bit
      W and R through DequantizeLinear (Tessera runs it on them, X and h quantized at run time). Static:
      Conv/MatMul/Gemm with activation ranges calibrated over DIR's sample folders (NAME.npy, NAME.pb or input_K.pb
      per input), written in the QDQ format (or QOperator: QLinearConv, QLinearMatMul, QLinearAdd); with --validate
      the layers adding most error stay float until the drop fits --max-drop. The output loads in ONNX Runtime.
      Preprocessing (basic optimization) first unless --no-preprocess. docs/QUANTIZATION.md.
  convert-fp16 MODEL OUTPUT [--keep-io-types] [--op-block-list OP,...] [--node-block-list NAME,...]
               [--no-default-block-list] [--external-data-threshold BYTES] [--verbose]
      Converts float32 initializers, constants and values to float16 (constants clamped into float16's range), as
      onnxconverter-common's convert_float_to_float16; blocked ops (ai.onnx.ml, Resize, TopK, Range, ... by default)
      stay float32 behind Casts; --keep-io-types keeps float32 inputs and outputs.
  convert-opset MODEL OUTPUT --to N [--verbose]
      Moves the model to ai.onnx opset N (upgrading, or downgrading where exact): attributes that became inputs,
      Softmax's axis meaning at 13, Resize-10 -> 11, Upsample/Scatter replacements, legacy attributes; a node whose
      meaning cannot be carried across is named with the change (exit 1, nothing written).
  compare MODEL [MODEL_B] [--input NAME=FILE ... | --input-dir DIR] [--opt-level-a L] [--opt-level-b L]
          [--threads-a N] [--threads-b N] [--disable-pass-a NAME] [--disable-pass-b NAME]
          [--precision-a fp32|bf16] [--precision-b fp32|bf16] [--rtol R] [--atol A]
          [--runtime-b onnxruntime [--python PATH]] [--json] [--html FILE]
      Runs one model under two configurations (default: opt-level disabled vs all) or two models on the same
      feeds (random unless given) and prints, for every value both compute, in graph order, the max absolute and
      relative error, naming the first node where they part beyond atol + rtol * max|A| (exit 1 then).
  limits (run, bench, serve): --max-tensor-bytes N (default 16 GiB), --max-live-bytes N (all live
      intermediates of a run, 64 GiB), --max-loop-iterations N (10000000), --max-graph-depth N (32),
      --max-model-bytes N (2 GiB - 1) refuse what exceeds them (docs/RELIABILITY.md);
      --timeout-ms N stops each run that takes longer than N ms (exit 1), naming the node it reached.
  --no-memory-pattern (run, bench) allocates every intermediate as it is produced instead of by the memory plan
      recorded from the first run at each input shape (one arena block per run; as onnxruntime's
      enable_mem_pattern = False).
  --denormals-as-zero (run, bench) flushes denormal floats to zero on the threads that run the model (FTZ/DAZ, as
      onnxruntime's session.set_denormal_as_zero).
  --precision bf16 (run, bench; compare: --precision-a/-b) runs float32 MatMul/Gemm, and Conv of group 1 with at
      least 64 input channels x kernel taps and 64 output channels, with constant weights on the bf16 GEMM (weights
      and activations rounded to bfloat16, float32 accumulation; off by default, as OpenVINO's inference_precision
      hint); fastest where the CPU has AMX-BF16 (on a Xeon: BERT-base about 3.7x float32, ResNet-50 2.3x), then
      AVX-512 BF16 (BERT-base 1.8x on Zen 4). docs/BENCHMARKS.md has the error it adds.
  --profile FILE (run, bench) writes every run's per-node timings (op, provider, shapes) and per-run totals as
      Chrome-trace JSON (chrome://tracing, Perfetto); it adds a little time per node to what bench measures.
  check MODEL [--expect-opset N] [--max-opset N] [--opt-level L] [--json]
      Before deployment: every op (domain, type, opset) with its node count and the kernel it runs on (this CPU's
      variant), inputs/outputs, initializer bytes, the ops whose meaning changes after the model's opset (Softmax's
      axis at 13, Clip's min/max inputs at 11, ...), what the optimizer would change, and the first problem found
      (unsupported op, opset too new or not the pinned one, bad external data): exit 1 then, 0 when ready.
  conformance DATA_DIR [--filter REGEX] [--manifest FILE] [--report FILE] [--opt-level L] [--run-skipped]
                       [--resave] [--threads N]
      Runs ONNX backend test folders and prints "N passed, N failed, N skipped". --resave runs each model
      after optimizing it and writing it back out (tests the model writer). --threads: intra-op threads per
      session (default 1).
  serve --model-repository DIR [--model-control-mode none|poll|explicit] [--load-model NAME ...]
        [--address ADDR] [--http-port N] [--grpc-port N] [--metrics-port N] (defaults 8000, 8001, 8002;
        0 picks a free port, -1 turns the endpoint off) [--http-threads N] [--max-body-mb N]
        [--repository-poll-secs N] [limits]
      Serves a Triton-style model repository on the KServe v2 HTTP/REST and gRPC protocols, with Prometheus
      metrics at /metrics; stops gracefully on SIGTERM or SIGINT (docs/SERVING.md).

exit codes: 0 ok, 1 run error, 2 usage error, 3 model rejected at load
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace tessera::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "run") return run_command(args);
    if (command == "info") return info_command(args);
    if (command == "bench") return bench_command(args);
    if (command == "optimize") return optimize_command(args);
    if (command == "quantize") return quantize_command(args);
    if (command == "convert-fp16") return convert_fp16_command(args);
    if (command == "convert-opset") return convert_opset_command(args);
    if (command == "compare") return compare_command(args);
    if (command == "check") return check_command(args);
    if (command == "conformance") return conformance_command(args);
    if (command == "serve") return serve_command(args);
    throw UsageError{"unknown command '" + command + "'"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera: %s\n\n%s", e.message.c_str(), kUsage);
    return kExitUsage;
  } catch (const tessera::Error& e) {
    std::fprintf(stderr, "tessera: error [%s]: %s\n", tessera::error_code_name(e.code()), e.what());
    return kExitRunError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera: error: %s\n", e.what());
    return kExitRunError;
  }
}
