/* Tessera's C API: a stable ABI over the runtime, in libtessera.so.
 *
 *   tessera_session* session = NULL;
 *   if (tessera_session_create("model.onnx", NULL, &session) != TESSERA_OK) {
 *     fprintf(stderr, "%s\n", tessera_last_error_message());
 *   }
 *   ... tessera_session_run(session, names, inputs, 1, NULL, 1, outputs) ...
 *   tessera_session_destroy(session);
 *
 * Rules:
 * - Every object is an opaque handle created by a *_create function and freed by its *_destroy function
 *   (destroying NULL does nothing). Layouts are private, so the ABI holds across releases with the same
 *   TESSERA_C_API_VERSION major; new functions may be added.
 * - Functions that can fail return tessera_status. On failure the calling thread's
 *   tessera_last_error_message() names the input, node or op and the shapes involved; output parameters are
 *   left untouched. No C++ exception crosses this boundary.
 * - Element types use ONNX's numbers (TensorProto.DataType): 1 float, 7 int64, 9 bool, 10 float16, ...
 *   String tensors (8) are not supported here.
 * - A session may be run from several threads at once; options and tensors are not thread-safe objects.
 */
#ifndef TESSERA_C_API_H_
#define TESSERA_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TESSERA_C_EXPORT __attribute__((visibility("default")))
#else
#define TESSERA_C_EXPORT
#endif

/* The API version this header describes; compare with tessera_api_version() at run time. */
#define TESSERA_C_API_VERSION 1

typedef enum tessera_status {
  TESSERA_OK = 0,
  TESSERA_INVALID_ARGUMENT = 1, /* bad feeds, options or arguments (NULL handles, unknown names, ...) */
  TESSERA_INVALID_MODEL = 2,    /* the model file or graph is malformed */
  TESSERA_UNSUPPORTED = 3,      /* a valid model or request Tessera cannot run */
  TESSERA_RUNTIME_ERROR = 4,    /* a failure while running a valid model on valid inputs */
  TESSERA_IO_ERROR = 5,         /* files that cannot be read */
  TESSERA_OUT_OF_MEMORY = 6,    /* an allocation refused or too large */
  TESSERA_INTERNAL_ERROR = 7    /* anything else (a bug: please report the message) */
} tessera_status;

/* ONNX element types most programs use; any other ONNX number is accepted as well. */
typedef enum tessera_element_type {
  TESSERA_ELEMENT_FLOAT = 1,
  TESSERA_ELEMENT_UINT8 = 2,
  TESSERA_ELEMENT_INT8 = 3,
  TESSERA_ELEMENT_INT32 = 6,
  TESSERA_ELEMENT_INT64 = 7,
  TESSERA_ELEMENT_BOOL = 9,
  TESSERA_ELEMENT_FLOAT16 = 10,
  TESSERA_ELEMENT_DOUBLE = 11,
  TESSERA_ELEMENT_BFLOAT16 = 16
} tessera_element_type;

typedef enum tessera_optimization_level {
  TESSERA_OPTIMIZATION_DISABLED = 0,
  TESSERA_OPTIMIZATION_BASIC = 1,
  TESSERA_OPTIMIZATION_EXTENDED = 2,
  TESSERA_OPTIMIZATION_ALL = 3
} tessera_optimization_level;

typedef enum tessera_io_kind { TESSERA_IO_INPUT = 0, TESSERA_IO_OUTPUT = 1 } tessera_io_kind;

/* The arithmetic of float32 MatMul/Gemm (tessera_session_options_set_matmul_precision). */
typedef enum tessera_matmul_precision {
  TESSERA_MATMUL_PRECISION_FP32 = 0, /* float32 throughout (the default) */
  TESSERA_MATMUL_PRECISION_BF16 = 1  /* constant weights and activations rounded to bfloat16, float32 sums */
} tessera_matmul_precision;

/* Resource limits a session enforces (tessera_session_options_set_limit); docs/RELIABILITY.md gives defaults. */
typedef enum tessera_limit {
  TESSERA_LIMIT_MAX_TENSOR_BYTES = 0,    /* largest tensor one node may produce */
  TESSERA_LIMIT_MAX_LOOP_ITERATIONS = 1, /* most iterations of one Loop node per run */
  TESSERA_LIMIT_MAX_GRAPH_DEPTH = 2,     /* deepest subgraph nesting (the main graph is depth 0) */
  TESSERA_LIMIT_MAX_MODEL_BYTES = 3,     /* largest model file or serialized model read */
  TESSERA_LIMIT_MAX_LIVE_BYTES = 4       /* most bytes all live intermediates of one run hold at once */
} tessera_limit;

typedef struct tessera_session_options tessera_session_options;
typedef struct tessera_run_options tessera_run_options;
typedef struct tessera_session tessera_session;
typedef struct tessera_tensor tessera_tensor;

/* ---- Versions and errors ------------------------------------------------------------------------------ */

/* TESSERA_C_API_VERSION of the loaded library. */
TESSERA_C_EXPORT uint32_t tessera_api_version(void);
/* The library's release, e.g. "0.1.0"; a static string. */
TESSERA_C_EXPORT const char* tessera_version(void);
/* The message of the last failed call on this thread ("" if none); valid until the thread's next call. */
TESSERA_C_EXPORT const char* tessera_last_error_message(void);
/* A short stable name for `status`, e.g. "INVALID_ARGUMENT"; a static string. */
TESSERA_C_EXPORT const char* tessera_status_name(tessera_status status);

/* ---- Session options ---------------------------------------------------------------------------------- */

/* Defaults: one intra-op thread per core, TESSERA_OPTIMIZATION_ALL, no free-dimension overrides. */
TESSERA_C_EXPORT tessera_status tessera_session_options_create(tessera_session_options** out);
TESSERA_C_EXPORT void tessera_session_options_destroy(tessera_session_options* options);
/* 0: one thread per core; 1: run on the calling thread only. Negative values are refused. */
TESSERA_C_EXPORT tessera_status tessera_session_options_set_intra_op_threads(tessera_session_options* options,
                                                                             int32_t threads);
TESSERA_C_EXPORT tessera_status tessera_session_options_set_optimization_level(tessera_session_options* options,
                                                                               tessera_optimization_level level);
/* Fixes every input dimension named `dim_name` to `value` (>= 0) before the graph is optimized. */
TESSERA_C_EXPORT tessera_status tessera_session_options_add_free_dimension_override(tessera_session_options* options,
                                                                                    const char* dim_name,
                                                                                    int64_t value);

/* Writes the optimized model (ONNX) to `path` when a session is created with these options; NULL or "" turns
 * it off. */
TESSERA_C_EXPORT tessera_status tessera_session_options_set_optimized_model_filepath(tessera_session_options* options,
                                                                                     const char* path);

/* Flushes denormal floats to zero (FTZ and DAZ) on the threads that run the session's nodes when `on` is
 * nonzero, as ONNX Runtime's "session.set_denormal_as_zero" config entry (default off). */
TESSERA_C_EXPORT tessera_status tessera_session_options_set_denormals_as_zero(tessera_session_options* options, int on);

/* With TESSERA_MATMUL_PRECISION_BF16, float32 MatMul/Gemm with constant weights run on the bfloat16 GEMM (weights
 * rounded once, activations as they are packed, float32 accumulation and outputs; faster where the CPU has
 * AVX512_BF16), as OpenVINO's inference_precision hint; the CLI's --precision bf16. Default FP32. */
TESSERA_C_EXPORT tessera_status tessera_session_options_set_matmul_precision(tessera_session_options* options,
                                                                             tessera_matmul_precision precision);

/* Sets one resource limit (see tessera_limit); values above the type's range (INT64_MAX for counts) are
 * refused. */
TESSERA_C_EXPORT tessera_status tessera_session_options_set_limit(tessera_session_options* options, tessera_limit limit,
                                                                  uint64_t value);

/* ---- Run options -------------------------------------------------------------------------------------- */

/* Defaults: no timeout, not terminated. One run options object may serve several runs, also concurrently. */
TESSERA_C_EXPORT tessera_status tessera_run_options_create(tessera_run_options** out);
TESSERA_C_EXPORT void tessera_run_options_destroy(tessera_run_options* options);
/* Runs with these options stop with TESSERA_RUNTIME_ERROR once they have run `timeout_ms` milliseconds
 * (checked before every node and every Loop/Scan iteration); 0 turns the timeout off, negative is refused. */
TESSERA_C_EXPORT tessera_status tessera_run_options_set_timeout_ms(tessera_run_options* options, int64_t timeout_ms);
/* Non-zero stops runs with these options (also ones in flight, from another thread) before their next node. */
TESSERA_C_EXPORT tessera_status tessera_run_options_set_terminate(tessera_run_options* options, int32_t terminate);

/* ---- Sessions ----------------------------------------------------------------------------------------- */

/* Loads, checks, optimizes and compiles the model at `model_path`; `options` may be NULL (defaults). */
TESSERA_C_EXPORT tessera_status tessera_session_create(const char* model_path, const tessera_session_options* options,
                                                       tessera_session** out);
/* The same from `size` bytes of a serialized model (copied; the caller may free them on return). External
 * data is not allowed for a model given as bytes. */
TESSERA_C_EXPORT tessera_status tessera_session_create_from_bytes(const void* data, size_t size,
                                                                  const tessera_session_options* options,
                                                                  tessera_session** out);
TESSERA_C_EXPORT void tessera_session_destroy(tessera_session* session);

/* Number of inputs (every graph input, initializer-backed optional ones included) or outputs. */
TESSERA_C_EXPORT tessera_status tessera_session_io_count(const tessera_session* session, tessera_io_kind kind,
                                                         size_t* count);
/* Name of input/output `index`; the string lives as long as the session. */
TESSERA_C_EXPORT tessera_status tessera_session_io_name(const tessera_session* session, tessera_io_kind kind,
                                                        size_t index, const char** name);
/* Element type, rank (-1 when even the rank is unknown) and dims (-1 for a dimension that is not a number;
 * see tessera_session_io_dim_name) of input/output `index`, as declared by the model. `dims` lives as long
 * as the session. Non-tensor values (sequences, maps) report element type 0 and rank -1. */
TESSERA_C_EXPORT tessera_status tessera_session_io_type(const tessera_session* session, tessera_io_kind kind,
                                                        size_t index, int32_t* element_type, int64_t* rank,
                                                        const int64_t** dims);
/* The symbol of dimension `axis` ("batch"), or "" for a known or unnamed dimension; lives as long as the
 * session. */
TESSERA_C_EXPORT tessera_status tessera_session_io_dim_name(const tessera_session* session, tessera_io_kind kind,
                                                            size_t index, size_t axis, const char** name);

/* Runs with `input_count` named inputs. `output_names` selects outputs (NULL: every output in model order, and
 * then `output_count` must equal the model's output count); on success outputs[i] receives a new tensor the
 * caller destroys. Inputs are read in place, never written, and may be released after the call. */
TESSERA_C_EXPORT tessera_status tessera_session_run(const tessera_session* session, const char* const* input_names,
                                                    const tessera_tensor* const* inputs, size_t input_count,
                                                    const char* const* output_names, size_t output_count,
                                                    tessera_tensor** outputs);
/* tessera_session_run with run options (NULL: defaults). */
TESSERA_C_EXPORT tessera_status tessera_session_run_with_options(const tessera_session* session,
                                                                 const tessera_run_options* run_options,
                                                                 const char* const* input_names,
                                                                 const tessera_tensor* const* inputs,
                                                                 size_t input_count, const char* const* output_names,
                                                                 size_t output_count, tessera_tensor** outputs);
/* The same, writing into caller-provided tensors (typically from tessera_tensor_wrap): each must already have
 * the result's element type and shape (else TESSERA_INVALID_ARGUMENT naming the output and both shapes, and
 * nothing is written). */
TESSERA_C_EXPORT tessera_status tessera_session_run_into(const tessera_session* session, const char* const* input_names,
                                                         const tessera_tensor* const* inputs, size_t input_count,
                                                         const char* const* output_names, size_t output_count,
                                                         tessera_tensor* const* outputs);

/* ---- Tensors ------------------------------------------------------------------------------------------ */

/* A new zero-filled tensor that owns its memory. */
TESSERA_C_EXPORT tessera_status tessera_tensor_create(int32_t element_type, const int64_t* dims, size_t rank,
                                                      tessera_tensor** out);
/* A tensor over caller memory (no copy): `data` must hold `byte_size` >= the tensor's bytes, be aligned to the
 * element size, and stay valid until the tensor is destroyed. */
TESSERA_C_EXPORT tessera_status tessera_tensor_wrap(int32_t element_type, const int64_t* dims, size_t rank, void* data,
                                                    size_t byte_size, tessera_tensor** out);
TESSERA_C_EXPORT void tessera_tensor_destroy(tessera_tensor* tensor);
TESSERA_C_EXPORT tessera_status tessera_tensor_element_type(const tessera_tensor* tensor, int32_t* element_type);
/* Rank and dims; `dims` lives as long as the tensor. */
TESSERA_C_EXPORT tessera_status tessera_tensor_shape(const tessera_tensor* tensor, size_t* rank, const int64_t** dims);
/* The element memory (writable) and its size in bytes. */
TESSERA_C_EXPORT tessera_status tessera_tensor_data(tessera_tensor* tensor, void** data, size_t* byte_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_C_API_H_ */
