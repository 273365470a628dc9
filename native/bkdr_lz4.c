// LZ4 block compression for the repository, in the format bkdr has always stored:
// the uncompressed size as a little-endian uint32, then one LZ4 block.
//
// Why not an npm binding: lz4-napi hands its output to JavaScript as memory V8 is
// never told about, so nothing prompts a garbage collection while a backup streams
// gigabytes through it and the process grows by hundreds of MiB. Here the result is
// copied into an ordinary Node Buffer (counted by V8) and the scratch memory is freed
// at once. The async variants run LZ4 on the libuv pool, off the main thread.
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vendor/lz4/lz4.h"

#define SIZE_PREFIX 4

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  const char *input;
  size_t input_length;
  char *output;
  size_t output_length;
  int compress;
  const char *error;
} job;

static int get_buffer(napi_env env, napi_value value, const char **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return 0;
  }
  void *p = NULL;
  napi_get_buffer_info(env, value, &p, length);
  *data = p;
  return 1;
}

// Fills output/output_length or sets error; touches no JavaScript (runs on a pool thread).
static void run(job *j) {
  if (j->compress) {
    if (j->input_length > (size_t)LZ4_MAX_INPUT_SIZE) { j->error = "input too large for one LZ4 block"; return; }
    int bound = LZ4_compressBound((int)j->input_length);
    j->output = malloc((size_t)bound + SIZE_PREFIX);
    if (!j->output) { j->error = "out of memory"; return; }
    uint32_t n = (uint32_t)j->input_length;
    unsigned char *p = (unsigned char *)j->output;
    p[0] = n & 0xff; p[1] = (n >> 8) & 0xff; p[2] = (n >> 16) & 0xff; p[3] = (n >> 24) & 0xff;
    int written = LZ4_compress_default(j->input, j->output + SIZE_PREFIX, (int)j->input_length, bound);
    if (written <= 0) { j->error = "LZ4 compression failed"; return; }
    j->output_length = (size_t)written + SIZE_PREFIX;
  } else {
    if (j->input_length < SIZE_PREFIX) { j->error = "LZ4 data is truncated"; return; }
    const unsigned char *p = (const unsigned char *)j->input;
    uint32_t n = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    if (n > (uint32_t)LZ4_MAX_INPUT_SIZE) { j->error = "LZ4 data declares an impossible size"; return; }
    j->output = malloc(n > 0 ? n : 1);
    if (!j->output) { j->error = "out of memory"; return; }
    int got = LZ4_decompress_safe(j->input + SIZE_PREFIX, j->output, (int)(j->input_length - SIZE_PREFIX), (int)n);
    if (got < 0 || (uint32_t)got != n) { j->error = "LZ4 data is corrupt"; return; }
    j->output_length = n;
  }
}

// The result as a Node Buffer (a copy V8 accounts for), or NULL after throwing / with *error_out set.
static napi_value take_result(napi_env env, job *j, napi_value *error_out) {
  napi_value result = NULL;
  if (j->error) {
    napi_value message;
    napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, error_out);
  } else {
    void *copy = NULL;
    napi_create_buffer_copy(env, j->output_length, j->output, &copy, &result);
  }
  free(j->output);
  j->output = NULL;
  return result;
}

static napi_value run_sync(napi_env env, napi_callback_info info, int compress) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  job j = {0};
  j.compress = compress;
  if (argc < 1 || !get_buffer(env, argv[0], &j.input, &j.input_length)) return NULL;
  run(&j);
  napi_value error = NULL;
  napi_value result = take_result(env, &j, &error);
  if (error) napi_throw(env, error);
  return result;
}

static void execute(napi_env env, void *data) {
  (void)env;
  run((job *)data);
}

static void complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  napi_value error = NULL;
  napi_value result = status == napi_ok ? take_result(env, j, &error) : NULL;
  if (status != napi_ok) {
    napi_value message;
    napi_create_string_utf8(env, "LZ4 work was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    free(j->output);
  }
  if (error) napi_reject_deferred(env, j->deferred, error);
  else napi_resolve_deferred(env, j->deferred, result);
  napi_delete_reference(env, j->input_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value run_async(napi_env env, napi_callback_info info, int compress) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  job *j = calloc(1, sizeof(job));
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->compress = compress;
  if (argc < 1 || !get_buffer(env, argv[0], &j->input, &j->input_length)) {
    free(j);
    return NULL;
  }
  // The input must outlive the work: a reference keeps the Buffer from being collected.
  napi_create_reference(env, argv[0], 1, &j->input_ref);
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, compress ? "bkdr.lz4.compress" : "bkdr.lz4.decompress", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value compress_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, 1); }
static napi_value decompress_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, 0); }
static napi_value compress_async(napi_env env, napi_callback_info info) { return run_async(env, info, 1); }
static napi_value decompress_async(napi_env env, napi_callback_info info) { return run_async(env, info, 0); }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"compressSync", NULL, compress_sync, NULL, NULL, NULL, napi_default, NULL},
    {"decompressSync", NULL, decompress_sync, NULL, NULL, NULL, napi_default, NULL},
    {"compress", NULL, compress_async, NULL, NULL, NULL, napi_default, NULL},
    {"decompress", NULL, decompress_async, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
