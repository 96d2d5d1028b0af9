// Optional native GEMM for prefill-sized products: y[M,N] = x[M,K] · w[N,K]ᵀ in fp32 through the system's
// OpenBLAS (cblas_sgemm). Built only by `npm run build:native` (scripts/setup-native.sh installs Debian's
// libopenblas-dev first); the wasm backend uses it when it loads and falls back to its own kernels otherwise.
#include <cblas.h>
#include <node_api.h>
#include <stdint.h>

static int f32view(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off) != napi_ok || type != napi_float32_array) return 0;
  *data = (float *)ptr;
  return 1;
}

static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *w, *y;
  size_t lx, lw, ly;
  int64_t M, N, K;
  if (argc < 6 || !f32view(env, argv[0], &x, &lx) || !f32view(env, argv[1], &w, &lw) || !f32view(env, argv[2], &y, &ly) ||
      napi_get_value_int64(env, argv[3], &M) != napi_ok || napi_get_value_int64(env, argv[4], &N) != napi_ok ||
      napi_get_value_int64(env, argv[5], &K) != napi_ok) {
    napi_throw_type_error(env, NULL, "sgemm(x: Float32Array, w: Float32Array, y: Float32Array, M, N, K)");
    return NULL;
  }
  if (M < 0 || N < 0 || K < 0 || (size_t)(M * K) > lx || (size_t)(N * K) > lw || (size_t)(M * N) > ly) {
    napi_throw_range_error(env, NULL, "sgemm: an operand is shorter than M, N, K say");
    return NULL;
  }
  if (M && N) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K, w, (int)K, 0.0f, y, (int)N);
  return NULL;
}

static napi_value threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t n = 0;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &n) == napi_ok && n > 0) openblas_set_num_threads(n);
  napi_value out;
  napi_create_int32(env, openblas_get_num_threads(), &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL },
    { "threads", NULL, threads, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
