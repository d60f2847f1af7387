/* run_model: loads an ONNX model with Tessera's C API, lists its inputs and outputs, feeds every input with
 * ones (symbolic dimensions taken as 1), runs it twice (outputs returned by the library, then written into
 * buffers this program allocates), checks that both runs agree, and prints the first values of each output.
 *
 *   run_model MODEL.onnx
 *
 * Exit status: 0 on success, 1 on any failure (with Tessera's message on stderr). Float inputs and outputs
 * only, to keep the example short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tessera/c_api.h>

#define MAX_IO 16

static int check(tessera_status status, const char* what) {
  if (status == TESSERA_OK) return 1;
  fprintf(stderr, "%s failed [%s]: %s\n", what, tessera_status_name(status), tessera_last_error_message());
  return 0;
}

static size_t element_count(const int64_t* dims, size_t rank) {
  size_t count = 1;
  for (size_t i = 0; i < rank; ++i) count *= (size_t)dims[i];
  return count;
}

static void print_shape(const int64_t* dims, size_t rank) {
  printf("[");
  for (size_t i = 0; i < rank; ++i) printf(i ? ",%lld" : "%lld", (long long)dims[i]);
  printf("]");
}

/* Prints "kind i 'name': float[dims]" with symbolic dims by name. */
static int describe(const tessera_session* session, tessera_io_kind kind, size_t index) {
  const char* name;
  int32_t element_type;
  int64_t rank;
  const int64_t* dims;
  if (!check(tessera_session_io_name(session, kind, index, &name), "io_name") ||
      !check(tessera_session_io_type(session, kind, index, &element_type, &rank, &dims), "io_type")) {
    return 0;
  }
  printf("%s %zu '%s': element type %d, dims (", kind == TESSERA_IO_INPUT ? "input" : "output", index, name,
         (int)element_type);
  for (int64_t axis = 0; axis < rank; ++axis) {
    const char* symbol;
    if (!check(tessera_session_io_dim_name(session, kind, index, (size_t)axis, &symbol), "io_dim_name")) return 0;
    if (dims[axis] >= 0)
      printf(axis ? ", %lld" : "%lld", (long long)dims[axis]);
    else
      printf(axis ? ", %s" : "%s", symbol[0] ? symbol : "?");
  }
  printf(")\n");
  return 1;
}

/* A float tensor of ones shaped like input `index`, symbolic dims as 1. */
static tessera_tensor* ones_for_input(const tessera_session* session, size_t index) {
  int32_t element_type;
  int64_t rank;
  const int64_t* declared;
  int64_t dims[16];
  tessera_tensor* tensor = NULL;
  void* data;
  size_t bytes;
  if (!check(tessera_session_io_type(session, TESSERA_IO_INPUT, index, &element_type, &rank, &declared), "io_type")) {
    return NULL;
  }
  if (element_type != TESSERA_ELEMENT_FLOAT || rank < 0 || rank > 16) {
    fprintf(stderr, "input %zu is not a float tensor of known rank <= 16\n", index);
    return NULL;
  }
  for (int64_t i = 0; i < rank; ++i) dims[i] = declared[i] >= 0 ? declared[i] : 1;
  if (!check(tessera_tensor_create(TESSERA_ELEMENT_FLOAT, dims, (size_t)rank, &tensor), "tensor_create") ||
      !check(tessera_tensor_data(tensor, &data, &bytes), "tensor_data")) {
    tessera_tensor_destroy(tensor);
    return NULL;
  }
  for (size_t i = 0; i < bytes / sizeof(float); ++i) ((float*)data)[i] = 1.0f;
  return tensor;
}

int main(int argc, char** argv) {
  tessera_session_options* options = NULL;
  tessera_session* session = NULL;
  const char* input_names[MAX_IO];
  tessera_tensor* inputs[MAX_IO] = {0};
  tessera_tensor* outputs[MAX_IO] = {0};
  tessera_tensor* into[MAX_IO] = {0};
  float* buffers[MAX_IO] = {0};
  size_t input_count = 0, output_count = 0;
  int ok = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 1;
  }
  printf("tessera %s, C API %u (header %d)\n", tessera_version(), tessera_api_version(), TESSERA_C_API_VERSION);
  if (tessera_api_version() != TESSERA_C_API_VERSION) return 1;

  if (!check(tessera_session_options_create(&options), "options_create") ||
      !check(tessera_session_options_set_intra_op_threads(options, 1), "set_intra_op_threads") ||
      !check(tessera_session_create(argv[1], options, &session), "session_create") ||
      !check(tessera_session_io_count(session, TESSERA_IO_INPUT, &input_count), "io_count") ||
      !check(tessera_session_io_count(session, TESSERA_IO_OUTPUT, &output_count), "io_count")) {
    goto done;
  }
  if (input_count > MAX_IO || output_count > MAX_IO) {
    fprintf(stderr, "more than %d inputs or outputs\n", MAX_IO);
    goto done;
  }
  for (size_t i = 0; i < input_count; ++i) {
    if (!describe(session, TESSERA_IO_INPUT, i)) goto done;
    if (!check(tessera_session_io_name(session, TESSERA_IO_INPUT, i, &input_names[i]), "io_name")) goto done;
    if ((inputs[i] = ones_for_input(session, i)) == NULL) goto done;
  }
  for (size_t i = 0; i < output_count; ++i) {
    if (!describe(session, TESSERA_IO_OUTPUT, i)) goto done;
  }

  /* Run 1: the library allocates the outputs. */
  if (!check(tessera_session_run(session, input_names, (const tessera_tensor* const*)inputs, input_count, NULL,
                                 output_count, outputs),
             "run")) {
    goto done;
  }
  /* Run 2: into buffers of the shapes run 1 produced. */
  for (size_t i = 0; i < output_count; ++i) {
    size_t rank;
    const int64_t* dims;
    if (!check(tessera_tensor_shape(outputs[i], &rank, &dims), "tensor_shape")) goto done;
    const size_t count = element_count(dims, rank);
    buffers[i] = calloc(count ? count : 1, sizeof(float));
    if (!check(tessera_tensor_wrap(TESSERA_ELEMENT_FLOAT, dims, rank, buffers[i], count * sizeof(float), &into[i]),
               "tensor_wrap")) {
      goto done;
    }
  }
  if (!check(tessera_session_run_into(session, input_names, (const tessera_tensor* const*)inputs, input_count, NULL,
                                      output_count, into),
             "run_into")) {
    goto done;
  }
  for (size_t i = 0; i < output_count; ++i) {
    const char* name;
    size_t rank, bytes;
    const int64_t* dims;
    void* data;
    if (!check(tessera_session_io_name(session, TESSERA_IO_OUTPUT, i, &name), "io_name") ||
        !check(tessera_tensor_shape(outputs[i], &rank, &dims), "tensor_shape") ||
        !check(tessera_tensor_data(outputs[i], &data, &bytes), "tensor_data")) {
      goto done;
    }
    if (memcmp(data, buffers[i], bytes) != 0) {
      fprintf(stderr, "output '%s': run and run_into disagree\n", name);
      goto done;
    }
    printf("output '%s' float", name);
    print_shape(dims, rank);
    printf(":");
    for (size_t k = 0; k < bytes / sizeof(float) && k < 8; ++k) printf(" %g", ((const float*)data)[k]);
    printf("\n");
  }
  ok = 1;

done:
  for (size_t i = 0; i < MAX_IO; ++i) {
    tessera_tensor_destroy(inputs[i]);
    tessera_tensor_destroy(outputs[i]);
    tessera_tensor_destroy(into[i]);
    free(buffers[i]);
  }
  tessera_session_destroy(session);
  tessera_session_options_destroy(options);
  return ok ? 0 : 1;
}
