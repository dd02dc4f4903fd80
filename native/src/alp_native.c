/*
 * alp_native: optional float32 CNN kernels (NHWC) over OpenBLAS, exposed
 * through plain N-API (node_api.h).
 *
 * Every array argument is a Float32Array; it may be a view at any byteOffset
 * into a larger ArrayBuffer (e.g. the wasm heap). Arrays are only read or
 * written for the duration of the call and never retained. Output arrays must
 * not overlap the input arrays. No JS objects are created on the success path;
 * every function returns undefined except numThreads() and convKernels().
 *
 * Scratch memory for im2col lives in per-environment instance data (one
 * grow-only buffer per Node environment / worker), freed when that
 * environment is torn down.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declared by OpenBLAS's cblas.h; repeated so that another cblas.h works. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

#define ALP_MAX_ARGS 20

/* Adam must round every operation to float32 as TF.js does: no contraction into FMAs. The build
 * passes -ffp-contract=off, and every operation is its own statement (so clang's default, which
 * contracts only within one expression, cannot fuse either). */
#define ALP_MAX_DIM ((int64_t)1 << 31)

/* ------------------------------------------------------------------------ */
/* Per-environment state                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
  float *scratch;
  size_t scratch_cap; /* in floats */
} alp_state;

static size_t g_chunk_floats = 0; /* im2col chunk budget; 0: automatic */
static int g_threads = 0;                      /* 0: follow OpenBLAS */

static void state_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  alp_state *st = (alp_state *)data;
  if (st) {
    free(st->scratch);
    free(st);
  }
}

/* Returns a buffer of at least n floats, or NULL (JS error already thrown). */
static float *get_scratch(napi_env env, size_t n) {
  alp_state *st = NULL;
  if (napi_get_instance_data(env, (void **)&st) != napi_ok || st == NULL) {
    napi_throw_error(env, NULL, "alp_native: instance data missing");
    return NULL;
  }
  if (n == 0) n = 1;
  if (st->scratch_cap < n) {
    free(st->scratch);
    st->scratch = NULL;
    st->scratch_cap = 0;
    /* 64-byte aligned so that GEMM packing reads aligned rows. */
    void *p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0 || p == NULL) {
      char msg[128];
      snprintf(msg, sizeof msg, "alp_native: cannot allocate %zu bytes of scratch",
               n * sizeof(float));
      napi_throw_error(env, NULL, msg);
      return NULL;
    }
    st->scratch = (float *)p;
    st->scratch_cap = n;
  }
  return st->scratch;
}

/* ------------------------------------------------------------------------ */
/* Tiny parallel-for on pthreads (used for im2col / col2im / pooling only)   */
/* ------------------------------------------------------------------------ */

typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);

typedef struct {
  range_fn fn;
  void *ctx;
  int64_t begin, end;
} range_task;

static void *range_thread(void *arg) {
  range_task *t = (range_task *)arg;
  t->fn(t->ctx, t->begin, t->end);
  return NULL;
}

static int worker_threads(void) {
  int n = g_threads > 0 ? g_threads : openblas_get_num_threads();
  if (n < 1) n = 1;
  if (n > 64) n = 64;
  return n;
}

/* Runs fn over [0,total) split into contiguous ranges. `work` is a rough
 * count of floats touched; small jobs run on the calling thread. */
static void parallel_range(range_fn fn, void *ctx, int64_t total, double work) {
  int nt = worker_threads();
  const double min_work_per_thread = 128.0 * 1024.0;
  if (work / min_work_per_thread < nt) nt = (int)(work / min_work_per_thread);
  if (nt > total) nt = (int)total;
  if (nt <= 1) {
    if (total > 0) fn(ctx, 0, total);
    return;
  }
  range_task tasks[64];
  pthread_t tids[64];
  int started[64];
  for (int i = 0; i < nt; i++) {
    tasks[i].fn = fn;
    tasks[i].ctx = ctx;
    tasks[i].begin = total * i / nt;
    tasks[i].end = total * (i + 1) / nt;
    started[i] = 0;
  }
  for (int i = 1; i < nt; i++)
    started[i] = pthread_create(&tids[i], NULL, range_thread, &tasks[i]) == 0;
  fn(ctx, tasks[0].begin, tasks[0].end);
  for (int i = 1; i < nt; i++) {
    if (started[i])
      pthread_join(tids[i], NULL);
    else
      fn(ctx, tasks[i].begin, tasks[i].end); /* thread creation failed */
  }
}

/* ------------------------------------------------------------------------ */
/* Argument parsing                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[ALP_MAX_ARGS];
  size_t argc;
  int failed;
} args_t;

static void throw_type(args_t *a, const char *fmt, const char *name) {
  if (a->failed) return;
  char msg[256];
  char what[160];
  snprintf(what, sizeof what, fmt, name);
  snprintf(msg, sizeof msg, "alp_native.%s: %s", a->fn, what);
  napi_throw_type_error(a->env, NULL, msg);
  a->failed = 1;
}

static void throw_range_msg(args_t *a, const char *what) {
  if (a->failed) return;
  char msg[320];
  snprintf(msg, sizeof msg, "alp_native.%s: %s", a->fn, what);
  napi_throw_range_error(a->env, NULL, msg);
  a->failed = 1;
}

static int args_init(args_t *a, napi_env env, napi_callback_info info, const char *fn,
                     size_t expected) {
  a->env = env;
  a->fn = fn;
  a->failed = 0;
  a->argc = ALP_MAX_ARGS;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "alp_native: napi_get_cb_info failed");
    a->failed = 1;
    return 0;
  }
  if (a->argc != expected) {
    char msg[160];
    snprintf(msg, sizeof msg, "alp_native.%s: expected %zu arguments, got %zu", fn, expected,
             a->argc);
    napi_throw_type_error(env, NULL, msg);
    a->failed = 1;
    return 0;
  }
  return 1;
}

/* Float32Array (any byteOffset). If allow_null, null/undefined give NULL. */
static float *arg_f32(args_t *a, size_t i, const char *name, size_t *len, int allow_null) {
  if (a->failed) return NULL;
  napi_value v = a->argv[i];
  napi_valuetype t;
  if (napi_typeof(a->env, v, &t) != napi_ok) {
    throw_type(a, "could not inspect argument '%s'", name);
    return NULL;
  }
  if (allow_null && (t == napi_null || t == napi_undefined)) {
    *len = 0;
    return NULL;
  }
  bool is_ta = false;
  if (t != napi_object || napi_is_typedarray(a->env, v, &is_ta) != napi_ok || !is_ta) {
    throw_type(a, allow_null ? "'%s' must be a Float32Array or null"
                             : "'%s' must be a Float32Array",
               name);
    return NULL;
  }
  napi_typedarray_type tt;
  size_t n = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(a->env, v, &tt, &n, &data, NULL, NULL) != napi_ok) {
    throw_type(a, "could not read typed array '%s'", name);
    return NULL;
  }
  if (tt != napi_float32_array) {
    throw_type(a, "'%s' must be a Float32Array (got another typed array)", name);
    return NULL;
  }
  /* data already points at element 0 (byteOffset applied by N-API). */
  *len = n;
  if (data == NULL && n != 0) {
    throw_type(a, "'%s' has no backing store", name);
    return NULL;
  }
  return (float *)data;
}

/* Non-negative (or >= minv) integer-valued number below 2^31. */
static int64_t arg_int(args_t *a, size_t i, const char *name, int64_t minv) {
  if (a->failed) return 0;
  double d;
  if (napi_get_value_double(a->env, a->argv[i], &d) != napi_ok) {
    throw_type(a, "'%s' must be a number", name);
    return 0;
  }
  if (!(d == floor(d)) || d >= (double)ALP_MAX_DIM || d < (double)minv) {
    char msg[200];
    snprintf(msg, sizeof msg, "'%s' must be an integer in [%lld, 2^31), got %g", name,
             (long long)minv, d);
    throw_range_msg(a, msg);
    return 0;
  }
  return (int64_t)d;
}

static int arg_bool(args_t *a, size_t i, const char *name) {
  if (a->failed) return 0;
  bool b;
  if (napi_get_value_bool(a->env, a->argv[i], &b) == napi_ok) return b ? 1 : 0;
  throw_type(a, "'%s' must be a boolean", name);
  return 0;
}

/* Product of dims with overflow guard; returns -1 on overflow. */
static int64_t prod(int count, const int64_t *d) {
  int64_t p = 1;
  for (int i = 0; i < count; i++) {
    if (__builtin_mul_overflow(p, d[i], &p) || p > ((int64_t)1 << 46)) return -1;
  }
  return p;
}

static void check_len(args_t *a, const char *name, size_t got, int count, const int64_t *dims,
                      const char *shape) {
  if (a->failed) return;
  int64_t want = prod(count, dims);
  if (want < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "shape %s of '%s' is too large", shape, name);
    throw_range_msg(a, msg);
    return;
  }
  if ((int64_t)got != want) {
    char msg[300];
    snprintf(msg, sizeof msg,
             "'%s' has length %zu but shape %s needs %lld%s", name, got, shape,
             (long long)want, got == 0 ? " (detached buffer?)" : "");
    throw_range_msg(a, msg);
  }
}

/* ------------------------------------------------------------------------ */
/* Convolution geometry, im2col, col2im                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
  int64_t N, H, W, Ci, KH, KW, Co, OH, OW, sH, sW, pT, pL;
} geom_t;

static inline int64_t geom_k(const geom_t *g) { return g->KH * g->KW * g->Ci; }

/* Contiguous range of kernel columns b in [b0,b1) whose input column lies in
 * [0,W) for output column ox. */
static inline void col_range(const geom_t *g, int64_t ox, int64_t *ix0, int64_t *b0,
                             int64_t *b1) {
  int64_t i0 = ox * g->sW - g->pL;
  int64_t lo = i0 < 0 ? -i0 : 0;
  int64_t hi = g->W - i0;
  if (hi > g->KW) hi = g->KW;
  if (hi < lo) hi = lo;
  if (lo > g->KW) lo = hi = g->KW;
  *ix0 = i0;
  *b0 = lo;
  *b1 = hi;
}

static inline void copy_f(float *restrict dst, const float *restrict src, int64_t n) {
  if (n >= 32) {
    memcpy(dst, src, (size_t)n * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
  }
}

static inline void zero_f(float *dst, int64_t n) {
  if (n >= 32) {
    memset(dst, 0, (size_t)n * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; i++) dst[i] = 0.0f;
  }
}

static inline void add_f(float *restrict dst, const float *restrict src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

typedef struct {
  const geom_t *g;
  const float *x;
  float *col;
  int64_t u0; /* first unit (n*OH + oy) of this chunk */
} im2col_ctx;

/* Units are output rows (n, oy); each unit fills OW rows of length K. */
static void im2col_units(void *vctx, int64_t begin, int64_t end) {
  const im2col_ctx *c = (const im2col_ctx *)vctx;
  const geom_t *g = c->g;
  const int64_t K = geom_k(g), rowW = g->KW * g->Ci, Ci = g->Ci;
  for (int64_t u = c->u0 + begin; u < c->u0 + end; u++) {
    const int64_t n = u / g->OH, oy = u % g->OH;
    const float *xn = c->x + n * g->H * g->W * Ci;
    float *urow = c->col + (u - c->u0) * g->OW * K;
    for (int64_t ox = 0; ox < g->OW; ox++) {
      int64_t ix0, b0, b1;
      col_range(g, ox, &ix0, &b0, &b1);
      float *row = urow + ox * K;
      for (int64_t a = 0; a < g->KH; a++) {
        const int64_t iy = oy * g->sH - g->pT + a;
        float *dst = row + a * rowW;
        if (iy < 0 || iy >= g->H || b1 == b0) {
          zero_f(dst, rowW);
          continue;
        }
        if (b0 > 0) zero_f(dst, b0 * Ci);
        copy_f(dst + b0 * Ci, xn + (iy * g->W + ix0 + b0) * Ci, (b1 - b0) * Ci);
        if (b1 < g->KW) zero_f(dst + b1 * Ci, (g->KW - b1) * Ci);
      }
    }
  }
}

typedef struct {
  const geom_t *g;
  const float *col; /* rows of units [u0,u1) */
  float *dx;
  int64_t u0, u1;
  int64_t n0; /* first image of this chunk */
} col2im_ctx;

/* Tasks are input rows (n, iy) of images n0.. of the chunk; every task writes
 * only its own dx row, so tasks run in parallel without conflicts. */
static void col2im_rows(void *vctx, int64_t begin, int64_t end) {
  const col2im_ctx *c = (const col2im_ctx *)vctx;
  const geom_t *g = c->g;
  const int64_t K = geom_k(g), rowW = g->KW * g->Ci, Ci = g->Ci;
  for (int64_t t = begin; t < end; t++) {
    const int64_t n = c->n0 + t / g->H, iy = t % g->H;
    float *dxrow = c->dx + (n * g->H + iy) * g->W * Ci;
    for (int64_t a = 0; a < g->KH; a++) {
      const int64_t q = iy + g->pT - a;
      if (q < 0 || q % g->sH != 0) continue;
      const int64_t oy = q / g->sH;
      if (oy >= g->OH) continue;
      const int64_t u = n * g->OH + oy;
      if (u < c->u0 || u >= c->u1) continue;
      const float *urow = c->col + (u - c->u0) * g->OW * K + a * rowW;
      for (int64_t ox = 0; ox < g->OW; ox++) {
        int64_t ix0, b0, b1;
        col_range(g, ox, &ix0, &b0, &b1);
        if (b1 == b0) continue;
        add_f(dxrow + (ix0 + b0) * Ci, urow + ox * K + b0 * Ci, (b1 - b0) * Ci);
      }
    }
  }
}

static int is_pointwise(const geom_t *g) {
  return g->KH == 1 && g->KW == 1 && g->sH == 1 && g->sW == 1 && g->pT == 0 && g->pL == 0 &&
         g->OH == g->H && g->OW == g->W;
}

/* Number of units (output rows) per chunk. The im2col buffer is kept small
 * (about 1 MiB per thread, at least 2 MiB, at most 64 MiB) so that it is
 * still in cache when the GEMM reads it; measured ~1.5x faster than one
 * batch-sized buffer on the 5x5 conv layers. ALP_NATIVE_CHUNK_KB overrides. */
static int64_t units_per_chunk(const geom_t *g) {
  int64_t per = g->OW * geom_k(g);
  if (per <= 0) return 1;
  int64_t budget = (int64_t)g_chunk_floats;
  if (budget == 0) {
    budget = (int64_t)worker_threads() << 18;
    if (budget < ((int64_t)1 << 19)) budget = (int64_t)1 << 19;
    if (budget > ((int64_t)1 << 24)) budget = (int64_t)1 << 24;
  }
  int64_t u = budget / per;
  if (u < 1) u = 1;
  return u;
}

/* ------------------------------------------------------------------------ */
/* GEMM helper                                                               */
/* ------------------------------------------------------------------------ */

static void gemm_rm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A,
                    const float *B, float *C, float beta) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 0.0f) memset(C, 0, (size_t)(M * N) * sizeof(float));
    return;
  }
  int64_t lda = ta ? M : K;
  int64_t ldb = tb ? K : N;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0f, A, (int)(lda > 0 ? lda : 1), B,
              (int)(ldb > 0 ? ldb : 1), beta, C, (int)(N > 0 ? N : 1));
}

/* ------------------------------------------------------------------------ */
/* Direct convolution for few output channels (AVX2 + FMA, or AVX-512)       */
/* ------------------------------------------------------------------------ */

/* im2col + GEMM leaves half of a core idle when the GEMM's output has 8–32 columns (ResNet's
 * 16-channel stage ran at ~50 GFLOP/s against a ~100 GFLOP/s sgemm peak): the im2col copy and
 * OpenBLAS' packing of it cost as much as the 2·Co flops each copied value feeds. These kernels read
 * x (and dy) in place and keep a tile of output pixels × channels in registers: up to 6 × 16 in 12
 * AVX2 registers, or with AVX-512 (channels a multiple of 16) up to 12 × 32, 8 × 48 or 6 × 64 in 24
 * of its 32 registers, which also takes the 64-channel layers off GEMM.
 *
 * Each output sums its terms in one fixed order — (kh, kw, ci) for the forward pass, (kh, kw, co)
 * for the input gradient, pixels in order for the filter gradient — whatever the tile, the vector
 * width or the thread count, so AVX2 and AVX-512 give the same bits, on any number of threads. The
 * build targets x86-64-v2; these functions are compiled for AVX2 + FMA (and AVX-512F) and run only
 * where the CPU has them (checked once). */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ALP_DIRECT 1
#define DTGT __attribute__((target("avx2,fma")))
#define DINL static inline __attribute__((always_inline, target("avx2,fma")))
#define ZTGT __attribute__((target("avx512f,avx2,fma")))
#define ZINL static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

/* -1: not yet checked; 0: off (no AVX2/FMA, or ALP_NATIVE_DIRECT_CONV=0); 1: where it is faster;
 * 2: wherever it applies (ALP_NATIVE_DIRECT_CONV=1, for benches and tests). */
static int g_direct = -1;
/* The CPU has AVX-512F and ALP_NATIVE_AVX512 is not 0 (set once with g_direct). */
static int g_z512 = 0;

static int env_is(const char *name, char v) {
  const char *e = getenv(name);
  return e && e[0] == v && e[1] == '\0';
}

static int direct_mode(void) {
  if (g_direct < 0) {
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int want = env_is("ALP_NATIVE_DIRECT_CONV", '0') ? 0 : env_is("ALP_NATIVE_DIRECT_CONV", '1') ? 2 : 1;
    g_z512 = ok && want > 0 && __builtin_cpu_supports("avx512f") && !env_is("ALP_NATIVE_AVX512", '0');
    g_direct = ok ? want : 0;
  }
  return g_direct;
}

/* Whether a layer with co output channels (of the tiles' GEMM view) runs on AVX-512 tiles. */
static int direct_z(int64_t co) { return g_z512 && co % 16 == 0; }

/* The tiles and the loops over them are written once for both vector widths: VT is __m256 (L = 8
 * floats) or __m512 (L = 16), a tile R pixels (or input channels) × V vectors of output channels in
 * R·V accumulators. Each output's terms are added in the same order on both, hence the same bits. */

/* Forward tile: R consecutive output pixels (input pixels `xs` floats apart) × V·L channels (weights
 * w, row stride ws). Terms for kh rows [a0,a1) (row offset xrs), kw [b0,b1), ci. */
#define DEF_FWD_TILE(NAME, INL, VT, L, LOADU, SET1, FMADD, ZERO, STOREU, RMAX, VMAX)                 \
  INL void NAME(const float *x, int64_t xs, int64_t xrs, const float *w, int64_t ws, int64_t Ci,    \
                int64_t KW, int64_t a0, int64_t a1, int64_t b0, int64_t b1, float *out,            \
                int64_t os, const int R, const int V) {                                             \
    VT acc[RMAX][VMAX];                                                                             \
    for (int r = 0; r < R; r++)                                                                     \
      for (int v = 0; v < V; v++) acc[r][v] = ZERO();                                               \
    for (int64_t a = a0; a < a1; a++) {                                                             \
      for (int64_t b = b0; b < b1; b++) {                                                           \
        const float *xp = x + a * xrs + b * Ci;                                                     \
        const float *wp = w + (a * KW + b) * Ci * ws;                                               \
        for (int64_t c = 0; c < Ci; c++) {                                                          \
          VT wv[VMAX];                                                                              \
          for (int v = 0; v < V; v++) wv[v] = LOADU(wp + c * ws + v * L);                           \
          for (int r = 0; r < R; r++) {                                                             \
            const VT s = SET1(xp[r * xs + c]);                                                      \
            for (int v = 0; v < V; v++) acc[r][v] = FMADD(s, wv[v], acc[r][v]);                     \
          }                                                                                         \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
    for (int r = 0; r < R; r++)                                                                     \
      for (int v = 0; v < V; v++) STOREU(out + r * os + v * L, acc[r][v]);                          \
  }

DEF_FWD_TILE(fwd_tile_y, DINL, __m256, 8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps,
             _mm256_setzero_ps, _mm256_storeu_ps, 6, 2)
DEF_FWD_TILE(fwd_tile_z, ZINL, __m512, 16, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
             _mm512_setzero_ps, _mm512_storeu_ps, 12, 4)

/* The widest tile for V vectors per pixel: 6 on AVX2 (12 of 16 registers); on AVX-512 R·V ≤ 24. */
static inline int y_rows(int V) { (void)V; return 6; }
static inline int z_rows(int V) { return V <= 2 ? 12 : V == 3 ? 8 : 6; }

/* A switch over (V, R) for R ≤ the rows for V, calling CALL(T, R, V) with constants. */
#define ZC(RR, VV, CALL, T) \
  case RR:                  \
    CALL(T, RR, VV);        \
    break;
#define UPTO6(VV, CALL, T) ZC(1, VV, CALL, T) ZC(2, VV, CALL, T) ZC(3, VV, CALL, T) ZC(4, VV, CALL, T) ZC(5, VV, CALL, T) ZC(6, VV, CALL, T)
#define UPTO8(VV, CALL, T) UPTO6(VV, CALL, T) ZC(7, VV, CALL, T) ZC(8, VV, CALL, T)
#define UPTO12(VV, CALL, T) UPTO8(VV, CALL, T) ZC(9, VV, CALL, T) ZC(10, VV, CALL, T) ZC(11, VV, CALL, T) ZC(12, VV, CALL, T)
#define Y_SWITCH(V, R, CALL, T)                          \
  switch (V) {                                           \
    case 1: switch (R) { UPTO6(1, CALL, T) } break;      \
    default: switch (R) { UPTO6(2, CALL, T) } break;     \
  }
#define Z_SWITCH(V, R, CALL, T)                          \
  switch (V) {                                           \
    case 1: switch (R) { UPTO12(1, CALL, T) } break;     \
    case 2: switch (R) { UPTO12(2, CALL, T) } break;     \
    case 3: switch (R) { UPTO8(3, CALL, T) } break;      \
    default: switch (R) { UPTO6(4, CALL, T) } break;     \
  }

/* One output row's tiles, all channel groups: columns [ta, tb) in full tiles of consecutive pixels,
 * the others (border columns, when there is no padded copy) one at a time on their inside kernel
 * columns. `base`: kernel row 0 at input column -pL, rows xrs floats apart. */
typedef void (*fwd_row_fn)(const geom_t *g, const float *base, int64_t xrs, const float *w,
                           int64_t a0, int64_t a1, int64_t ta, int64_t tb, float *orow);

#define FWD_CALL(TILE, RR, VV) TILE(xp, xs, xrs, wo, Co, Ci, KW, a0, a1, b0, b1, op, Co, RR, VV)
#define DEF_FWD_ROW(NAME, TGT, TILE, L, VMAX, ROWS, SWITCH)                                          \
  TGT static void NAME(const geom_t *g, const float *base, int64_t xrs, const float *w, int64_t a0, \
                       int64_t a1, int64_t ta, int64_t tb, float *orow) {                          \
    const int64_t Ci = g->Ci, Co = g->Co, KW = g->KW, xs = g->sW * Ci;                              \
    for (int64_t o = 0; o < Co;) {                                                                  \
      const int V = Co - o >= (VMAX) * (L) ? (VMAX) : (int)((Co - o) / (L));                        \
      const float *wo = w + o;                                                                      \
      for (int64_t ox = 0; ox < g->OW;) {                                                           \
        const float *xp = base + ox * xs;                                                           \
        float *op = orow + ox * Co + o;                                                             \
        int64_t b0 = 0, b1 = KW, R;                                                                 \
        if (ox < ta || ox >= tb) {                                                                  \
          int64_t ix0;                                                                              \
          col_range(g, ox, &ix0, &b0, &b1);                                                         \
          R = 1;                                                                                    \
        } else {                                                                                    \
          R = tb - ox < ROWS(V) ? tb - ox : ROWS(V);                                                \
        }                                                                                           \
        SWITCH(V, R, FWD_CALL, TILE)                                                                \
        ox += R;                                                                                    \
      }                                                                                             \
      o += (L) * V;                                                                                 \
    }                                                                                               \
  }

DEF_FWD_ROW(fwd_row_y, DTGT, fwd_tile_y, 8, 2, y_rows, Y_SWITCH)
DEF_FWD_ROW(fwd_row_z, ZTGT, fwd_tile_z, 16, 4, z_rows, Z_SWITCH)

typedef struct {
  const geom_t *g;
  const float *x, *w; /* w: [KH, KW, Ci, Co] */
  float *out;
  fwd_row_fn row;
} direct_ctx;

/* Copies the kernel rows [a0, a1) of output row (n, oy) into rb, each padded with zeros to the Wp
 * columns the row's outputs read (from column -pL), so that border columns run in full tiles too
 * (one pixel at a time they would be load-bound; on a 14-wide 5×5 layer they are 4 columns of 14). */
DTGT static void pad_rows(const geom_t *g, const float *x, int64_t n, int64_t iy0, int64_t a0, int64_t a1,
                          int64_t Wp, float *rb) {
  const int64_t Ci = g->Ci, left = g->pL < Wp ? g->pL : Wp;
  int64_t right = Wp - g->pL - g->W;
  if (right < 0) right = 0;
  const int64_t mid = Wp - left - right;
  for (int64_t a = a0; a < a1; a++) {
    float *dst = rb + a * Wp * Ci;
    const float *src = x + ((n * g->H + iy0 + a) * g->W) * Ci;
    zero_f(dst, left * Ci);
    if (mid > 0) copy_f(dst + left * Ci, src, mid * Ci);
    zero_f(dst + (left + mid) * Ci, right * Ci);
  }
}

/* Tasks are output rows (n, oy). */
DTGT static void direct_fwd_units(void *vctx, int64_t begin, int64_t end) {
  const direct_ctx *c = (const direct_ctx *)vctx;
  const geom_t *g = c->g;
  const int64_t Ci = g->Ci, Co = g->Co, W = g->W, KW = g->KW;
  /* Output columns whose whole kernel row lies inside the input: [oxa, oxb). */
  int64_t oxa = (g->pL + g->sW - 1) / g->sW, oxb = (W + g->pL - KW) / g->sW + 1;
  if (W + g->pL - KW < 0) oxb = 0;
  if (oxb > g->OW) oxb = g->OW;
  if (oxa > oxb) oxa = oxb;
  /* With border columns, each output row's input rows are first copied, zero-padded (rb); without
   * that buffer (no border, or no memory) border columns run one at a time on their inside columns. */
  const int64_t Wp = (g->OW - 1) * g->sW + KW;
  float *rb = NULL;
  if (oxa > 0 || oxb < g->OW) rb = (float *)malloc((size_t)(g->KH * Wp * Ci) * sizeof(float));
  for (int64_t u = begin; u < end; u++) {
    const int64_t n = u / g->OH, oy = u % g->OH;
    const int64_t iy0 = oy * g->sH - g->pT;
    int64_t a0 = iy0 < 0 ? -iy0 : 0, a1 = g->H - iy0;
    if (a1 > g->KH) a1 = g->KH;
    float *orow = c->out + u * g->OW * Co;
    if (a1 <= a0) {
      memset(orow, 0, (size_t)(g->OW * Co) * sizeof(float));
      continue;
    }
    /* Row a of the kernel at base + a·xrs, column 0 at input column -pL (base may point before the
     * image: only in-range (a, b) are read). */
    const float *base = c->x + (n * g->H + iy0) * W * Ci - g->pL * Ci;
    int64_t xrs = W * Ci, ta = oxa, tb = oxb;
    if (rb) {
      pad_rows(g, c->x, n, iy0, a0, a1, Wp, rb);
      base = rb;
      xrs = Wp * Ci;
      ta = 0;
      tb = g->OW;
    }
    c->row(g, base, xrs, c->w, a0, a1, ta, tb, orow);
  }
  free(rb);
}

/* Filter gradient tile: R consecutive input channels (ci0..) of kernel cell (a, b) × V·L output
 * channels at o, accumulated over the pixels of units [u0, u1) into dw (loaded and stored). */
#define DEF_BPF_TILE(NAME, INL, VT, L, LOADU, SET1, FMADD, STOREU, RMAX, VMAX)                        \
  INL void NAME(const direct_ctx *c, const float *dy, int64_t a, int64_t b, int64_t ci0, int64_t o, \
                int64_t u0, int64_t u1, float *dw, const int R, const int V) {                      \
    const geom_t *g = c->g;                                                                         \
    const int64_t Ci = g->Ci, Co = g->Co;                                                           \
    VT acc[RMAX][VMAX];                                                                             \
    for (int r = 0; r < R; r++)                                                                     \
      for (int v = 0; v < V; v++) acc[r][v] = LOADU(dw + r * Co + v * L);                           \
    /* Output columns whose input column ox*sW - pL + b lies in [0, W). */                          \
    int64_t oxa = g->pL - b > 0 ? (g->pL - b + g->sW - 1) / g->sW : 0;                              \
    int64_t oxb = g->W - 1 + g->pL - b >= 0 ? (g->W - 1 + g->pL - b) / g->sW + 1 : 0;               \
    if (oxb > g->OW) oxb = g->OW;                                                                   \
    for (int64_t u = u0; u < u1; u++) {                                                             \
      const int64_t n = u / g->OH, oy = u % g->OH;                                                  \
      const int64_t iy = oy * g->sH - g->pT + a;                                                    \
      if (iy < 0 || iy >= g->H) continue;                                                           \
      const float *xr = c->x + ((n * g->H + iy) * g->W + b - g->pL) * Ci + ci0;                     \
      const float *dr = dy + u * g->OW * Co + o;                                                    \
      for (int64_t ox = oxa; ox < oxb; ox++) {                                                      \
        const float *xp = xr + ox * g->sW * Ci;                                                     \
        VT d[VMAX];                                                                                 \
        for (int v = 0; v < V; v++) d[v] = LOADU(dr + ox * Co + v * L);                             \
        for (int r = 0; r < R; r++) {                                                               \
          const VT s = SET1(xp[r]);                                                                 \
          for (int v = 0; v < V; v++) acc[r][v] = FMADD(s, d[v], acc[r][v]);                        \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
    for (int r = 0; r < R; r++)                                                                     \
      for (int v = 0; v < V; v++) STOREU(dw + r * Co + v * L, acc[r][v]);                           \
  }

DEF_BPF_TILE(bpf_tile_y, DINL, __m256, 8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps,
             _mm256_storeu_ps, 6, 2)
DEF_BPF_TILE(bpf_tile_z, ZINL, __m512, 16, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
             _mm512_storeu_ps, 12, 4)

typedef struct {
  direct_ctx d;
  const float *dy;
  int group; /* input channels per task: the tiles' R */
} bpf_ctx;

/* One task's filter-gradient tiles over the pixels of units [u0, u1): R input channels from ci0 of
 * kernel cell (a, b), every output channel (R split where a channel group's tile holds fewer). */
#define BPF_CALL(TILE, RR, VV) TILE(&c->d, c->dy, a, b, ci0 + r0, o, u0, u1, dwt + r0 * Co + o, RR, VV)
#define DEF_BPF_TASK(NAME, TGT, TILE, L, VMAX, ROWS, SWITCH)                                          \
  TGT static void NAME(const bpf_ctx *c, int64_t a, int64_t b, int64_t ci0, int R, int64_t u0,      \
                       int64_t u1, float *dwt) {                                                    \
    const int64_t Co = c->d.g->Co;                                                                  \
    for (int64_t o = 0; o < Co;) {                                                                  \
      const int V = Co - o >= (VMAX) * (L) ? (VMAX) : (int)((Co - o) / (L));                        \
      const int RV = R < ROWS(V) ? R : ROWS(V);                                                     \
      for (int r0 = 0; r0 < R; r0 += RV) {                                                          \
        const int rr = R - r0 < RV ? R - r0 : RV;                                                   \
        SWITCH(V, rr, BPF_CALL, TILE)                                                               \
      }                                                                                             \
      o += (L) * V;                                                                                 \
    }                                                                                               \
  }

DEF_BPF_TASK(bpf_task_y, DTGT, bpf_tile_y, 8, 2, y_rows, Y_SWITCH)
DEF_BPF_TASK(bpf_task_z, ZTGT, bpf_tile_z, 16, 4, z_rows, Z_SWITCH)

/* Tasks are (kernel cell, channel group) pairs. A thread walks the pixels a few output rows at a
 * time and runs all of its tasks on each chunk, so dy and x are read once per thread, from cache. */
DTGT static void direct_bpf_tasks(void *vctx, int64_t begin, int64_t end) {
  const bpf_ctx *c = (const bpf_ctx *)vctx;
  const geom_t *g = c->d.g;
  const int64_t Ci = g->Ci, Co = g->Co, G = c->group, groups = (Ci + G - 1) / G;
  const int64_t units = g->N * g->OH;
  const int z = direct_z(Co);
  int64_t per = (256 + g->OW - 1) / g->OW;
  if (per < 1) per = 1;
  for (int64_t t = begin; t < end; t++) {
    const int64_t cell = t / groups, ci0 = (t % groups) * G;
    const int64_t R = Ci - ci0 < G ? Ci - ci0 : G;
    memset(c->d.out + (cell * Ci + ci0) * Co, 0, (size_t)(R * Co) * sizeof(float));
  }
  for (int64_t u0 = 0; u0 < units; u0 += per) {
    const int64_t u1 = u0 + per < units ? u0 + per : units;
    for (int64_t t = begin; t < end; t++) {
      const int64_t cell = t / groups, ci0 = (t % groups) * G;
      const int R = Ci - ci0 < G ? (int)(Ci - ci0) : (int)G;
      float *dwt = c->d.out + (cell * Ci + ci0) * Co;
      if (z) bpf_task_z(c, cell / g->KW, cell % g->KW, ci0, R, u0, u1, dwt);
      else bpf_task_y(c, cell / g->KW, cell % g->KW, ci0, R, u0, u1, dwt);
    }
  }
}

/* Where the direct kernels replace im2col + GEMM: output channels a multiple of 8 and few of them
 * (measured faster up to 32 on AVX2, up to 64 on AVX-512; bench/conv-layers.mjs). Stride-1 1x1
 * layers never get here: they are one GEMM without im2col. */
static int direct_applies(const geom_t *g, int64_t co) {
  const int mode = direct_mode();
  if (mode == 0 || co % 8 != 0 || co == 0) return 0;
  return mode == 2 || co <= (direct_z(co) ? 64 : 32);
}

static void direct_conv2d(const geom_t *g, const float *x, const float *w, float *out) {
  direct_ctx c = {g, x, w, out, direct_z(g->Co) ? fwd_row_z : fwd_row_y};
  const int64_t units = g->N * g->OH;
  parallel_range(direct_fwd_units, &c, units, (double)(units * g->OW * g->Co * geom_k(g)));
}

static void direct_conv2d_bp_filter(const geom_t *g, const float *x, const float *dy, float *dw) {
  /* A task's R input channels: the AVX-512 tiles' widest R for the first channel group. */
  const int64_t V0 = g->Co >= 64 ? 4 : g->Co / 16;
  bpf_ctx c = {{g, x, NULL, dw, NULL}, dy, direct_z(g->Co) ? z_rows((int)V0) : 6};
  const int64_t tasks = g->KH * g->KW * ((g->Ci + c.group - 1) / c.group);
  parallel_range(direct_bpf_tasks, &c, tasks,
                 (double)(g->N * g->OH * g->OW * g->Co * geom_k(g)));
}

/* One dimension of a strided input gradient, phase p (0 ≤ p < s): the dx positions i = i0 + s·t
 * (t < n) are those the kernel taps a = p + s·j (j < J) reach, from dy position t + c - j. */
typedef struct {
  int64_t i0, n, J, c;
} phase_t;

static phase_t phase_of(int64_t p, int64_t s, int64_t pad, int64_t K, int64_t in) {
  phase_t r;
  r.i0 = ((p - pad) % s + s) % s;
  r.n = in > r.i0 ? (in - r.i0 + s - 1) / s : 0;
  r.J = K > p ? (K - p + s - 1) / s : 0;
  r.c = (r.i0 + pad - p) / s; /* exact: i0 ≡ p - pad (mod s) */
  return r;
}

/* Input gradient: for each phase (py, px) of the strides, a stride-1 convolution of dy with that
 * phase's taps, flipped in space and transposed in channels (w'[j,k,co,ci] = w[py + s·(Jy-1-j),
 * px + s·(Jx-1-k), ci, co]), top padding Jy-1-cy; at stride 1 the one phase is the whole kernel
 * flipped, padded by K-1-pad, written straight into dx. Other strides write each phase into a dense
 * buffer and copy it to its lattice of dx. Returns 0 when it does not apply (channels, or padding
 * that would be negative in a phase) and the caller takes the GEMM path. (An RGB input's 3 channels
 * computed as 8 on zero weights were slower than GEMM: one broadcast per FMA.) */
static int direct_conv2d_bp_input(const geom_t *g, const float *dy, const float *w, float *dx) {
  const int64_t KH = g->KH, KW = g->KW, Ci = g->Ci, Co = g->Co, sH = g->sH, sW = g->sW;
  if (!direct_applies(g, Ci)) return 0;
  for (int64_t py = 0; py < sH; py++) {
    const phase_t y = phase_of(py, sH, g->pT, KH, g->H);
    if (y.J > 0 && y.J - 1 - y.c < 0) return 0;
  }
  for (int64_t px = 0; px < sW; px++) {
    const phase_t x = phase_of(px, sW, g->pL, KW, g->W);
    if (x.J > 0 && x.J - 1 - x.c < 0) return 0;
  }
  const int strided = sH != 1 || sW != 1; /* through a dense buffer */
  float *wt = (float *)malloc((size_t)(KH * KW * Ci * Co) * sizeof(float));
  const int64_t most = g->N * ((g->H + sH - 1) / sH) * ((g->W + sW - 1) / sW) * Ci;
  float *part = strided ? (float *)malloc((size_t)most * sizeof(float)) : NULL;
  if (!wt || (strided && !part)) {
    free(wt);
    free(part);
    return 0;
  }
  for (int64_t py = 0; py < sH; py++) {
    const phase_t y = phase_of(py, sH, g->pT, KH, g->H);
    for (int64_t px = 0; px < sW; px++) {
      const phase_t x = phase_of(px, sW, g->pL, KW, g->W);
      if (y.n == 0 || x.n == 0) continue;
      float *out = strided ? part : dx;
      if (y.J == 0 || x.J == 0) {
        memset(out, 0, (size_t)(g->N * y.n * x.n * Ci) * sizeof(float));
      } else {
        for (int64_t j = 0; j < y.J; j++)
          for (int64_t k = 0; k < x.J; k++) {
            const int64_t a = py + sH * (y.J - 1 - j), b = px + sW * (x.J - 1 - k);
            for (int64_t ci = 0; ci < Ci; ci++)
              for (int64_t co = 0; co < Co; co++)
                wt[((j * x.J + k) * Co + co) * Ci + ci] = w[((a * KW + b) * Ci + ci) * Co + co];
          }
        /* input dy [N, OH, OW, Co], output this phase of dx [N, y.n, x.n, Ci] */
        geom_t t = {g->N, g->OH, g->OW, Co, y.J, x.J, Ci, y.n, x.n, 1, 1, y.J - 1 - y.c, x.J - 1 - x.c};
        direct_conv2d(&t, dy, wt, out);
      }
      if (!strided) continue;
      for (int64_t n = 0; n < g->N; n++)
        for (int64_t t = 0; t < y.n; t++) {
          const float *src = part + (n * y.n + t) * x.n * Ci;
          float *dst = dx + ((n * g->H + y.i0 + sH * t) * g->W + x.i0) * Ci;
          for (int64_t u = 0; u < x.n; u++) copy_f(dst + u * sW * Ci, src + u * Ci, Ci);
        }
    }
  }
  free(wt);
  free(part);
  return 1;
}
#else
static int direct_applies(const geom_t *g, int64_t co) { return 0; }
static void direct_conv2d(const geom_t *g, const float *x, const float *w, float *out) {}
static void direct_conv2d_bp_filter(const geom_t *g, const float *x, const float *dy, float *dw) {}
static int direct_conv2d_bp_input(const geom_t *g, const float *dy, const float *w, float *dx) { return 0; }
#endif

/* ------------------------------------------------------------------------ */
/* Exported functions                                                        */
/* ------------------------------------------------------------------------ */

/* sgemm(transA, transB, M, N, K, A, B, C, accumulate) */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "sgemm", 9)) return NULL;
  int ta = arg_bool(&a, 0, "transA");
  int tb = arg_bool(&a, 1, "transB");
  int64_t M = arg_int(&a, 2, "M", 0);
  int64_t N = arg_int(&a, 3, "N", 0);
  int64_t K = arg_int(&a, 4, "K", 0);
  size_t la, lb, lc;
  const float *A = arg_f32(&a, 5, "A", &la, 0);
  const float *B = arg_f32(&a, 6, "B", &lb, 0);
  float *C = arg_f32(&a, 7, "C", &lc, 0);
  int acc = arg_bool(&a, 8, "accumulate");
  {
    int64_t dA[2] = {ta ? K : M, ta ? M : K};
    int64_t dB[2] = {tb ? N : K, tb ? K : N};
    int64_t dC[2] = {M, N};
    check_len(&a, "A", la, 2, dA, ta ? "[K,M]" : "[M,K]");
    check_len(&a, "B", lb, 2, dB, tb ? "[N,K]" : "[K,N]");
    check_len(&a, "C", lc, 2, dC, "[M,N]");
  }
  if (a.failed) return NULL;
  gemm_rm(ta, tb, M, N, K, A, B, C, acc ? 1.0f : 0.0f);
  return NULL;
}

typedef struct {
  float *out;
  const float *bias;
  int64_t Co;
  int relu;
} bias_ctx;

static void bias_relu_rows(void *vctx, int64_t begin, int64_t end) {
  const bias_ctx *c = (const bias_ctx *)vctx;
  const int64_t Co = c->Co;
  for (int64_t r = begin; r < end; r++) {
    float *o = c->out + r * Co;
    if (c->bias) {
      const float *b = c->bias;
      if (c->relu) {
        for (int64_t j = 0; j < Co; j++) {
          float v = o[j] + b[j];
          o[j] = v > 0.0f ? v : 0.0f;
        }
      } else {
        for (int64_t j = 0; j < Co; j++) o[j] += b[j];
      }
    } else if (c->relu) {
      for (int64_t j = 0; j < Co; j++) o[j] = o[j] > 0.0f ? o[j] : 0.0f;
    }
  }
}

/* conv2d(x, N, H, W, Ci, w, KH, KW, Co, out, OH, OW, strideH, strideW, padTop, padLeft,
 *        bias|null, relu) */
static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "conv2d", 18)) return NULL;
  geom_t g;
  size_t lx, lw, lo, lb;
  const float *x = arg_f32(&a, 0, "x", &lx, 0);
  g.N = arg_int(&a, 1, "N", 0);
  g.H = arg_int(&a, 2, "H", 0);
  g.W = arg_int(&a, 3, "W", 0);
  g.Ci = arg_int(&a, 4, "Ci", 0);
  const float *w = arg_f32(&a, 5, "w", &lw, 0);
  g.KH = arg_int(&a, 6, "KH", 1);
  g.KW = arg_int(&a, 7, "KW", 1);
  g.Co = arg_int(&a, 8, "Co", 0);
  float *out = arg_f32(&a, 9, "out", &lo, 0);
  g.OH = arg_int(&a, 10, "OH", 0);
  g.OW = arg_int(&a, 11, "OW", 0);
  g.sH = arg_int(&a, 12, "strideH", 1);
  g.sW = arg_int(&a, 13, "strideW", 1);
  g.pT = arg_int(&a, 14, "padTop", 0);
  g.pL = arg_int(&a, 15, "padLeft", 0);
  const float *bias = arg_f32(&a, 16, "bias", &lb, 1);
  int relu = arg_bool(&a, 17, "relu");
  {
    int64_t dx[4] = {g.N, g.H, g.W, g.Ci}, dw[4] = {g.KH, g.KW, g.Ci, g.Co},
            dout[4] = {g.N, g.OH, g.OW, g.Co}, db[1] = {g.Co};
    check_len(&a, "x", lx, 4, dx, "[N,H,W,Ci]");
    check_len(&a, "w", lw, 4, dw, "[KH,KW,Ci,Co]");
    check_len(&a, "out", lo, 4, dout, "[N,OH,OW,Co]");
    if (bias) check_len(&a, "bias", lb, 1, db, "[Co]");
  }
  if (a.failed) return NULL;

  const int64_t K = geom_k(&g);
  const int64_t rows = g.N * g.OH * g.OW;
  if (rows == 0 || g.Co == 0) return NULL;

  if (is_pointwise(&g)) {
    gemm_rm(0, 0, rows, g.Co, K, x, w, out, 0.0f);
  } else if (K > 0 && direct_applies(&g, g.Co)) {
    direct_conv2d(&g, x, w, out);
  } else if (K == 0) {
    memset(out, 0, (size_t)(rows * g.Co) * sizeof(float));
  } else {
    const int64_t units = g.N * g.OH, upc = units_per_chunk(&g);
    const int64_t cu = upc < units ? upc : units;
    float *col = get_scratch(env, (size_t)(cu * g.OW * K));
    if (!col) return NULL;
    for (int64_t u0 = 0; u0 < units; u0 += upc) {
      const int64_t u1 = u0 + upc < units ? u0 + upc : units;
      im2col_ctx c = {&g, x, col, u0};
      parallel_range(im2col_units, &c, u1 - u0, (double)((u1 - u0) * g.OW * K));
      gemm_rm(0, 0, (u1 - u0) * g.OW, g.Co, K, col, w, out + u0 * g.OW * g.Co, 0.0f);
    }
  }
  if (bias || relu) {
    bias_ctx bc = {out, bias, g.Co, relu};
    parallel_range(bias_relu_rows, &bc, rows, (double)(rows * g.Co));
  }
  return NULL;
}

/* conv2dBackpropInput(dy, N, OH, OW, Co, w, KH, KW, Ci, dx, H, W, strideH, strideW,
 *                     padTop, padLeft) */
static napi_value js_conv2d_bp_input(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "conv2dBackpropInput", 16)) return NULL;
  geom_t g;
  size_t ldy, lw, ldx;
  const float *dy = arg_f32(&a, 0, "dy", &ldy, 0);
  g.N = arg_int(&a, 1, "N", 0);
  g.OH = arg_int(&a, 2, "OH", 0);
  g.OW = arg_int(&a, 3, "OW", 0);
  g.Co = arg_int(&a, 4, "Co", 0);
  const float *w = arg_f32(&a, 5, "w", &lw, 0);
  g.KH = arg_int(&a, 6, "KH", 1);
  g.KW = arg_int(&a, 7, "KW", 1);
  g.Ci = arg_int(&a, 8, "Ci", 0);
  float *dx = arg_f32(&a, 9, "dx", &ldx, 0);
  g.H = arg_int(&a, 10, "H", 0);
  g.W = arg_int(&a, 11, "W", 0);
  g.sH = arg_int(&a, 12, "strideH", 1);
  g.sW = arg_int(&a, 13, "strideW", 1);
  g.pT = arg_int(&a, 14, "padTop", 0);
  g.pL = arg_int(&a, 15, "padLeft", 0);
  {
    int64_t ddy[4] = {g.N, g.OH, g.OW, g.Co}, dw[4] = {g.KH, g.KW, g.Ci, g.Co},
            ddx[4] = {g.N, g.H, g.W, g.Ci};
    check_len(&a, "dy", ldy, 4, ddy, "[N,OH,OW,Co]");
    check_len(&a, "w", lw, 4, dw, "[KH,KW,Ci,Co]");
    check_len(&a, "dx", ldx, 4, ddx, "[N,H,W,Ci]");
  }
  if (a.failed) return NULL;

  const int64_t K = geom_k(&g);
  const int64_t rows = g.N * g.OH * g.OW;
  const int64_t nx = g.N * g.H * g.W * g.Ci;
  if (nx == 0) return NULL;

  if (is_pointwise(&g)) {
    /* dx[rows, Ci] = dy[rows, Co] . w[Ci, Co]^T */
    gemm_rm(0, 1, rows, g.Ci, g.Co, dy, w, dx, 0.0f);
    return NULL;
  }
  if (rows > 0 && g.Co > 0 && K > 0 && direct_conv2d_bp_input(&g, dy, w, dx)) return NULL;
  memset(dx, 0, (size_t)nx * sizeof(float));
  if (rows == 0 || g.Co == 0 || K == 0) return NULL;

  const int64_t units = g.N * g.OH, upc = units_per_chunk(&g);
  const int64_t cu = upc < units ? upc : units;
  float *col = get_scratch(env, (size_t)(cu * g.OW * K));
  if (!col) return NULL;
  for (int64_t u0 = 0; u0 < units; u0 += upc) {
    const int64_t u1 = u0 + upc < units ? u0 + upc : units;
    /* dcol[r, K] = dy[r, Co] . w[K, Co]^T */
    gemm_rm(0, 1, (u1 - u0) * g.OW, K, g.Co, dy + u0 * g.OW * g.Co, w, col, 0.0f);
    const int64_t n0 = u0 / g.OH, n1 = (u1 - 1) / g.OH + 1;
    col2im_ctx c = {&g, col, dx, u0, u1, n0};
    parallel_range(col2im_rows, &c, (n1 - n0) * g.H, (double)((u1 - u0) * g.OW * K));
  }
  return NULL;
}

/* conv2dBackpropFilter(x, N, H, W, Ci, dy, OH, OW, Co, dw, KH, KW, strideH, strideW,
 *                      padTop, padLeft) */
static napi_value js_conv2d_bp_filter(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "conv2dBackpropFilter", 16)) return NULL;
  geom_t g;
  size_t lx, ldy, ldw;
  const float *x = arg_f32(&a, 0, "x", &lx, 0);
  g.N = arg_int(&a, 1, "N", 0);
  g.H = arg_int(&a, 2, "H", 0);
  g.W = arg_int(&a, 3, "W", 0);
  g.Ci = arg_int(&a, 4, "Ci", 0);
  const float *dy = arg_f32(&a, 5, "dy", &ldy, 0);
  g.OH = arg_int(&a, 6, "OH", 0);
  g.OW = arg_int(&a, 7, "OW", 0);
  g.Co = arg_int(&a, 8, "Co", 0);
  float *dw = arg_f32(&a, 9, "dw", &ldw, 0);
  g.KH = arg_int(&a, 10, "KH", 1);
  g.KW = arg_int(&a, 11, "KW", 1);
  g.sH = arg_int(&a, 12, "strideH", 1);
  g.sW = arg_int(&a, 13, "strideW", 1);
  g.pT = arg_int(&a, 14, "padTop", 0);
  g.pL = arg_int(&a, 15, "padLeft", 0);
  {
    int64_t dxs[4] = {g.N, g.H, g.W, g.Ci}, ddy[4] = {g.N, g.OH, g.OW, g.Co},
            dws[4] = {g.KH, g.KW, g.Ci, g.Co};
    check_len(&a, "x", lx, 4, dxs, "[N,H,W,Ci]");
    check_len(&a, "dy", ldy, 4, ddy, "[N,OH,OW,Co]");
    check_len(&a, "dw", ldw, 4, dws, "[KH,KW,Ci,Co]");
  }
  if (a.failed) return NULL;

  const int64_t K = geom_k(&g);
  const int64_t rows = g.N * g.OH * g.OW;
  if (K == 0 || g.Co == 0) return NULL;
  if (rows == 0) {
    memset(dw, 0, (size_t)(K * g.Co) * sizeof(float));
    return NULL;
  }
  if (is_pointwise(&g)) {
    /* dw[Ci, Co] = x[rows, Ci]^T . dy[rows, Co] */
    gemm_rm(1, 0, K, g.Co, rows, x, dy, dw, 0.0f);
    return NULL;
  }
  /* One input channel gives the direct filter gradient one broadcast per two loads (load-bound:
   * 25–28 GFLOP/s against GEMM's 34–35 on 1→32 channels); from 3 it is faster. */
  if (g.Ci >= 3 && direct_applies(&g, g.Co)) {
    direct_conv2d_bp_filter(&g, x, dy, dw);
    return NULL;
  }
  const int64_t units = g.N * g.OH, upc = units_per_chunk(&g);
  const int64_t cu = upc < units ? upc : units;
  float *col = get_scratch(env, (size_t)(cu * g.OW * K));
  if (!col) return NULL;
  for (int64_t u0 = 0; u0 < units; u0 += upc) {
    const int64_t u1 = u0 + upc < units ? u0 + upc : units;
    im2col_ctx c = {&g, x, col, u0};
    parallel_range(im2col_units, &c, u1 - u0, (double)((u1 - u0) * g.OW * K));
    gemm_rm(1, 0, K, g.Co, (u1 - u0) * g.OW, col, dy + u0 * g.OW * g.Co, dw,
            u0 == 0 ? 0.0f : 1.0f);
  }
  return NULL;
}

typedef struct {
  const float *dy, *x;
  float *dx;
  int64_t H, W, C, OH, OW, pH, pW, sH, sW, pT, pL;
} pool_ctx;

#define POOL_CBLK 256

/* Tasks are images n: windows of different images never share dx. */
static void max_pool_grad_images(void *vctx, int64_t begin, int64_t end) {
  const pool_ctx *p = (const pool_ctx *)vctx;
  const int64_t C = p->C;
  float best[POOL_CBLK];
  int32_t arg[POOL_CBLK]; /* offsets within one image (checked < 2^31 by the caller) */
  for (int64_t n = begin; n < end; n++) {
    const float *xn = p->x + n * p->H * p->W * C;
    float *dxn = p->dx + n * p->H * p->W * C;
    const float *dyn = p->dy + n * p->OH * p->OW * C;
    for (int64_t oy = 0; oy < p->OH; oy++) {
      const int64_t y0 = oy * p->sH - p->pT;
      for (int64_t ox = 0; ox < p->OW; ox++) {
        const int64_t x0 = ox * p->sW - p->pL;
        const float *g = dyn + (oy * p->OW + ox) * C;
        for (int64_t c0 = 0; c0 < C; c0 += POOL_CBLK) {
          const int64_t cn = C - c0 < POOL_CBLK ? C - c0 : POOL_CBLK;
          for (int64_t j = 0; j < cn; j++) {
            best[j] = -INFINITY;
            arg[j] = -1;
          }
          for (int64_t a = 0; a < p->pH; a++) {
            const int64_t iy = y0 + a;
            if (iy < 0 || iy >= p->H) continue;
            for (int64_t b = 0; b < p->pW; b++) {
              const int64_t ix = x0 + b;
              if (ix < 0 || ix >= p->W) continue;
              const int64_t base = (iy * p->W + ix) * C + c0;
              const float *xv = xn + base;
              /* Branch-free, as masks, so that it vectorises: the comparisons are data-dependent
               * and mispredict (measured ~8x slower as branches). */
              const int32_t b32 = (int32_t)base;
              for (int32_t j = 0; j < (int32_t)cn; j++) {
                const float v = xv[j], bj = best[j];
                const int32_t m = -(int32_t)(v > bj);
                best[j] = v > bj ? v : bj;
                arg[j] = (arg[j] & ~m) | ((b32 + j) & m);
              }
            }
          }
          for (int64_t j = 0; j < cn; j++)
            if (arg[j] >= 0) dxn[arg[j]] += g[c0 + j];
        }
      }
    }
  }
}

/* Reads N, H, W, C, OH, OW, poolH, poolW, strideH, strideW, padTop, padLeft from arguments first..first+11
 * into p (N is returned): the pooling kernels take the same geometry. */
static int64_t pool_geometry(args_t *a, pool_ctx *p, size_t first) {
  int64_t N = arg_int(a, first, "N", 0);
  p->H = arg_int(a, first + 1, "H", 0);
  p->W = arg_int(a, first + 2, "W", 0);
  p->C = arg_int(a, first + 3, "C", 0);
  p->OH = arg_int(a, first + 4, "OH", 0);
  p->OW = arg_int(a, first + 5, "OW", 0);
  p->pH = arg_int(a, first + 6, "poolH", 1);
  p->pW = arg_int(a, first + 7, "poolW", 1);
  p->sH = arg_int(a, first + 8, "strideH", 1);
  p->sW = arg_int(a, first + 9, "strideW", 1);
  p->pT = arg_int(a, first + 10, "padTop", 0);
  p->pL = arg_int(a, first + 11, "padLeft", 0);
  return N;
}

/* Forward max pooling, tasks are images n: out[n, oy, ox, c] = max of x over the window's in-bounds
 * positions (padding never wins), like TF.js' MaxPool; NaN as in max(a, b) = b > a ? b : a. */
static void max_pool_images(void *vctx, int64_t begin, int64_t end) {
  const pool_ctx *p = (const pool_ctx *)vctx;
  const int64_t C = p->C;
  for (int64_t n = begin; n < end; n++) {
    const float *xn = p->x + n * p->H * p->W * C;
    float *on = p->dx + n * p->OH * p->OW * C; /* the output travels in dx */
    for (int64_t oy = 0; oy < p->OH; oy++) {
      const int64_t y0 = oy * p->sH - p->pT;
      for (int64_t ox = 0; ox < p->OW; ox++) {
        const int64_t x0 = ox * p->sW - p->pL;
        float *o = on + (oy * p->OW + ox) * C;
        for (int64_t j = 0; j < C; j++) o[j] = -INFINITY;
        for (int64_t a = 0; a < p->pH; a++) {
          const int64_t iy = y0 + a;
          if (iy < 0 || iy >= p->H) continue;
          for (int64_t b = 0; b < p->pW; b++) {
            const int64_t ix = x0 + b;
            if (ix < 0 || ix >= p->W) continue;
            const float *xv = xn + (iy * p->W + ix) * C;
            for (int64_t j = 0; j < C; j++) o[j] = xv[j] > o[j] ? xv[j] : o[j];
          }
        }
      }
    }
  }
}

/* maxPool(x, N, H, W, C, OH, OW, poolH, poolW, strideH, strideW, padTop, padLeft, out) */
static napi_value js_max_pool(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "maxPool", 14)) return NULL;
  size_t lx, lo;
  pool_ctx p;
  p.dy = NULL;
  p.x = arg_f32(&a, 0, "x", &lx, 0);
  int64_t N = pool_geometry(&a, &p, 1);
  p.dx = arg_f32(&a, 13, "out", &lo, 0);
  {
    int64_t dxs[4] = {N, p.H, p.W, p.C}, dos[4] = {N, p.OH, p.OW, p.C};
    check_len(&a, "x", lx, 4, dxs, "[N,H,W,C]");
    check_len(&a, "out", lo, 4, dos, "[N,OH,OW,C]");
  }
  if (a.failed) return NULL;
  const double work = (double)(N * p.OH * p.OW * p.C) * (double)(p.pH * p.pW);
  parallel_range(max_pool_images, &p, N, work);
  return NULL;
}

/* maxPoolGrad(dy, x, N, H, W, C, OH, OW, poolH, poolW, strideH, strideW, padTop, padLeft,
 *             dx) */
static napi_value js_max_pool_grad(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "maxPoolGrad", 15)) return NULL;
  size_t ldy, lx, ldx;
  pool_ctx p;
  p.dy = arg_f32(&a, 0, "dy", &ldy, 0);
  p.x = arg_f32(&a, 1, "x", &lx, 0);
  int64_t N = pool_geometry(&a, &p, 2);
  p.dx = arg_f32(&a, 14, "dx", &ldx, 0);
  {
    int64_t ddy[4] = {N, p.OH, p.OW, p.C}, dxs[4] = {N, p.H, p.W, p.C};
    check_len(&a, "dy", ldy, 4, ddy, "[N,OH,OW,C]");
    check_len(&a, "x", lx, 4, dxs, "[N,H,W,C]");
    check_len(&a, "dx", ldx, 4, dxs, "[N,H,W,C]");
  }
  if (a.failed) return NULL;
  const int64_t nx = N * p.H * p.W * p.C;
  if (nx == 0) return NULL;
  memset(p.dx, 0, (size_t)nx * sizeof(float));
  if (p.H * p.W * p.C >= ((int64_t)1 << 31)) {
    throw_range_msg(&a, "one image of 'x' must have fewer than 2^31 elements");
    return NULL;
  }
  const double work = (double)(N * p.OH * p.OW * p.C) * (double)(p.pH * p.pW);
  parallel_range(max_pool_grad_images, &p, N, work);
  return NULL;
}

typedef struct {
  const float *dy, *x;
  float *out;
} relu_ctx;

/* TF.js' Relu gradient is dy * float(step(x)): dy where x > 0, dy * 0 elsewhere (so -0, and NaN for an
 * infinite or NaN dy), NaN where x is NaN. Written without branches so that it vectorises. */
static void relu_grad_range(void *vctx, int64_t begin, int64_t end) {
  const relu_ctx *c = (const relu_ctx *)vctx;
  const float *dy = c->dy, *x = c->x;
  float *out = c->out;
  /* Selects of computed values (no branch), which vectorise with -fno-trapping-math: ~20x faster
   * than the branchy form on random signs. */
  for (int64_t i = begin; i < end; i++) {
    const float xi = x[i], d = dy[i];
    const float r = d * (xi > 0.0f ? 1.0f : 0.0f);
    out[i] = xi == xi ? r : xi;
  }
}

/* reluGrad(dy, x, out, n) : out = dy * step(x) (out may alias dy). */
static napi_value js_relu_grad(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "reluGrad", 4)) return NULL;
  size_t ldy, lx, lo;
  relu_ctx c;
  c.dy = arg_f32(&a, 0, "dy", &ldy, 0);
  c.x = arg_f32(&a, 1, "x", &lx, 0);
  c.out = arg_f32(&a, 2, "out", &lo, 0);
  int64_t n = arg_int(&a, 3, "n", 0);
  check_len(&a, "dy", ldy, 1, &n, "[n]");
  check_len(&a, "x", lx, 1, &n, "[n]");
  check_len(&a, "out", lo, 1, &n, "[n]");
  if (a.failed) return NULL;
  /* Memory-bound: a single thread already saturates bandwidth for small n. */
  parallel_range(relu_grad_range, &c, n, (double)n / 4.0);
  return NULL;
}

typedef struct {
  const float *x, *b;
  float *out;
  int64_t C;
} addrow_ctx;

static void add_row_range(void *vctx, int64_t begin, int64_t end) {
  const addrow_ctx *c = (const addrow_ctx *)vctx;
  const int64_t C = c->C;
  for (int64_t r = begin; r < end; r++) {
    const float *restrict xr = c->x + r * C;
    float *restrict o = c->out + r * C;
    for (int64_t j = 0; j < C; j++) o[j] = xr[j] + c->b[j];
  }
}

/* addRow(x, R, C, b, out) : out[r, j] = x[r, j] + b[j] (a bias add, as TF.js runs it while recording
 * gradients, when it does not fuse it into the convolution). */
static napi_value js_add_row(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "addRow", 5)) return NULL;
  size_t lx, lb, lo;
  addrow_ctx c;
  c.x = arg_f32(&a, 0, "x", &lx, 0);
  int64_t R = arg_int(&a, 1, "R", 0);
  c.C = arg_int(&a, 2, "C", 0);
  c.b = arg_f32(&a, 3, "b", &lb, 0);
  c.out = arg_f32(&a, 4, "out", &lo, 0);
  {
    int64_t dx[2] = {R, c.C};
    check_len(&a, "x", lx, 2, dx, "[R,C]");
    check_len(&a, "b", lb, 1, &c.C, "[C]");
    check_len(&a, "out", lo, 2, dx, "[R,C]");
  }
  if (a.failed) return NULL;
  parallel_range(add_row_range, &c, R, (double)(R * c.C) / 2.0);
  return NULL;
}

typedef struct {
  const float *x;
  float *out;
  int64_t R, C;
} colsum_ctx;

/* Columns [begin,end): out[j] = sum over rows r in order of x[r, j], accumulated in float, the order
 * TF.js' wasm Sum uses after moving the reduced axes last. */
static void colsum_range(void *vctx, int64_t begin, int64_t end) {
  const colsum_ctx *c = (const colsum_ctx *)vctx;
  const int64_t C = c->C;
  for (int64_t j = begin; j < end; j++) c->out[j] = 0.0f;
  for (int64_t r = 0; r < c->R; r++) {
    const float *row = c->x + r * C;
    float *o = c->out;
    for (int64_t j = begin; j < end; j++) o[j] += row[j];
  }
}

/* sumRows(x, R, C, out) : out[C] = column sums of x[R, C] (the gradient of a bias add). */
static napi_value js_sum_rows(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "sumRows", 4)) return NULL;
  size_t lx, lo;
  colsum_ctx c;
  c.x = arg_f32(&a, 0, "x", &lx, 0);
  c.R = arg_int(&a, 1, "R", 0);
  c.C = arg_int(&a, 2, "C", 0);
  c.out = arg_f32(&a, 3, "out", &lo, 0);
  {
    int64_t dx[2] = {c.R, c.C};
    check_len(&a, "x", lx, 2, dx, "[R,C]");
    check_len(&a, "out", lo, 1, &c.C, "[C]");
  }
  if (a.failed) return NULL;
  parallel_range(colsum_range, &c, c.C, (double)(c.R * c.C));
  return NULL;
}

typedef struct {
  const float *value, *m, *v, *g;
  float *nvalue, *nm, *nv;
  float b1, omb1, b2, omb2, omab1, omab2, eps, neglr;
} adam_ctx;

/* One Adam step with TF.js' exact float32 operation order (AdamOptimizer.applyGradients):
 *   m' = m*b1 + g*(1-b1);  v' = v*b2 + (g*g)*(1-b2)
 *   value' = (m'/(1-b1^t)) / (sqrt(v'/(1-b2^t)) + eps) * (-lr) + value
 * each operation rounded to float32 (no fused multiply-add: see binding.gyp). */
/* restrict parameters (not restrict locals, which gcc 12 ignores here) let the loop vectorise. */
static void adam_kernel(const float *restrict value, const float *restrict m, const float *restrict v,
                        const float *restrict gr, float *restrict nvalue, float *restrict nmo,
                        float *restrict nvo, int64_t n, float b1, float omb1, float b2, float omb2,
                        float omab1, float omab2, float eps, float neglr) {
  for (int64_t i = 0; i < n; i++) {
    const float g = gr[i];
    const float m1 = m[i] * b1;
    const float m2 = g * omb1;
    const float nm = m1 + m2;
    const float gg = g * g;
    const float v1 = v[i] * b2;
    const float v2 = gg * omb2;
    const float nv = v1 + v2;
    const float mh = nm / omab1;
    const float vh = nv / omab2;
    const float den = sqrtf(vh) + eps;
    const float q = mh / den;
    const float step = q * neglr;
    nvalue[i] = step + value[i];
    nmo[i] = nm;
    nvo[i] = nv;
  }
}

static void adam_range(void *vctx, int64_t begin, int64_t end) {
  const adam_ctx *c = (const adam_ctx *)vctx;
  adam_kernel(c->value + begin, c->m + begin, c->v + begin, c->g + begin, c->nvalue + begin,
              c->nm + begin, c->nv + begin, end - begin, c->b1, c->omb1, c->b2, c->omb2, c->omab1,
              c->omab2, c->eps, c->neglr);
}

static float arg_f(args_t *a, size_t i, const char *name) {
  if (a->failed) return 0.0f;
  double d;
  if (napi_get_value_double(a->env, a->argv[i], &d) != napi_ok) {
    throw_type(a, "'%s' must be a number", name);
    return 0.0f;
  }
  return (float)d;
}

/* adamUpdate(value, m, v, g, newValue, newM, newV, n, beta1, oneMinusBeta1, beta2, oneMinusBeta2,
 *            oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negLr) */
static napi_value js_adam_update(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "adamUpdate", 16)) return NULL;
  size_t l[7];
  adam_ctx c;
  c.value = arg_f32(&a, 0, "value", &l[0], 0);
  c.m = arg_f32(&a, 1, "m", &l[1], 0);
  c.v = arg_f32(&a, 2, "v", &l[2], 0);
  c.g = arg_f32(&a, 3, "g", &l[3], 0);
  c.nvalue = arg_f32(&a, 4, "newValue", &l[4], 0);
  c.nm = arg_f32(&a, 5, "newM", &l[5], 0);
  c.nv = arg_f32(&a, 6, "newV", &l[6], 0);
  int64_t n = arg_int(&a, 7, "n", 0);
  c.b1 = arg_f(&a, 8, "beta1");
  c.omb1 = arg_f(&a, 9, "oneMinusBeta1");
  c.b2 = arg_f(&a, 10, "beta2");
  c.omb2 = arg_f(&a, 11, "oneMinusBeta2");
  c.omab1 = arg_f(&a, 12, "oneMinusAccBeta1");
  c.omab2 = arg_f(&a, 13, "oneMinusAccBeta2");
  c.eps = arg_f(&a, 14, "epsilon");
  c.neglr = arg_f(&a, 15, "negLr");
  {
    static const char *names[7] = {"value", "m", "v", "g", "newValue", "newM", "newV"};
    for (int k = 0; k < 7; k++) check_len(&a, names[k], l[k], 1, &n, "[n]");
  }
  if (a.failed) return NULL;
  parallel_range(adam_range, &c, n, (double)n * 2.0);
  return NULL;
}

/* biasAct(x, R, C, b, relu) : in place, x[r, j] = act(x[r, j] + b[j]) (b may be null), the tail of a
 * Dense layer after its matmul: the rows pass of the fused convolution. */
static napi_value js_bias_act(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "biasAct", 5)) return NULL;
  size_t lx, lb;
  bias_ctx c;
  c.out = arg_f32(&a, 0, "x", &lx, 0);
  int64_t R = arg_int(&a, 1, "R", 0);
  c.Co = arg_int(&a, 2, "C", 0);
  c.bias = arg_f32(&a, 3, "b", &lb, 1);
  c.relu = arg_bool(&a, 4, "relu");
  {
    int64_t dx[2] = {R, c.Co};
    check_len(&a, "x", lx, 2, dx, "[R,C]");
    if (c.bias != NULL) check_len(&a, "b", lb, 1, &c.Co, "[C]");
  }
  if (a.failed) return NULL;
  parallel_range(bias_relu_rows, &c, R, (double)(R * c.Co) / 2.0);
  return NULL;
}

typedef struct {
  float *xadv;
  const float *g, *x;
  float alpha, eps, lo, hi;
  int box;
} pgd_ctx;

/* One L-inf PGD step, each operation rounded to float32 in the order TF.js runs it
 * (attack/gradient-attack.ts with threat-model.ts): s = sign(g) * alpha; t = xadv + s;
 * d = clip(t - x, -eps, eps); v = x + d; xadv = clip(v, lo, hi). clip is min(max(v, lo), hi), so
 * NaN propagates as in TF.js. */
static void pgd_range(void *vctx, int64_t begin, int64_t end) {
  const pgd_ctx *c = (const pgd_ctx *)vctx;
  const float a = c->alpha, e = c->eps, ne = -c->eps;
  for (int64_t i = begin; i < end; i++) {
    const float g = c->g[i];
    /* sign as TF.js' cpu backend (and alp's wasm Sign) defines it: NaN gives 0. */
    const float sg = g > 0.0f ? 1.0f : g < 0.0f ? -1.0f : 0.0f;
    const float s = sg * a;
    const float t = c->xadv[i] + s;
    float d = t - c->x[i];
    d = d < ne ? ne : d;
    d = e < d ? e : d;
    float v = c->x[i] + d;
    if (c->box) {
      v = v < c->lo ? c->lo : v;
      v = c->hi < v ? c->hi : v;
    }
    c->xadv[i] = v;
  }
}

/* linfPgdStep(xadv, g, x, n, alpha, eps, lo, hi, box) : in place, one projected sign-gradient step. */
static napi_value js_linf_pgd_step(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "linfPgdStep", 9)) return NULL;
  size_t l[3];
  pgd_ctx c;
  c.xadv = arg_f32(&a, 0, "xadv", &l[0], 0);
  c.g = arg_f32(&a, 1, "g", &l[1], 0);
  c.x = arg_f32(&a, 2, "x", &l[2], 0);
  int64_t n = arg_int(&a, 3, "n", 0);
  c.alpha = arg_f(&a, 4, "alpha");
  c.eps = arg_f(&a, 5, "eps");
  c.lo = arg_f(&a, 6, "lo");
  c.hi = arg_f(&a, 7, "hi");
  c.box = arg_bool(&a, 8, "box");
  check_len(&a, "xadv", l[0], 1, &n, "[n]");
  check_len(&a, "g", l[1], 1, &n, "[n]");
  check_len(&a, "x", l[2], 1, &n, "[n]");
  if (a.failed) return NULL;
  parallel_range(pgd_range, &c, n, (double)n);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Native network: batch-norm apply and gradient, depthwise convolution      */
/* ------------------------------------------------------------------------ */

typedef struct {
  const float *x, *mean, *scale, *shift;
  float *out;
  int64_t C;
} affine_ctx;

/* out = (x - mean[c]) * scale[c] + shift[c], each operation rounded to float32. */
static void affine_rows(void *vctx, int64_t begin, int64_t end) {
  const affine_ctx *c = (const affine_ctx *)vctx;
  const int64_t C = c->C;
  for (int64_t r = begin; r < end; r++) {
    const float *x = c->x + r * C;
    float *o = c->out + r * C;
    for (int64_t j = 0; j < C; j++) {
      const float d = x[j] - c->mean[j];
      const float s = d * c->scale[j];
      o[j] = s + c->shift[j];
    }
  }
}

/* channelAffine(x, R, C, mean, scale, shift, out) : batch normalisation with fixed statistics, folded
 * into a per-channel scale (gamma * rsqrt(var + eps)) and shift (beta). */
static napi_value js_channel_affine(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "channelAffine", 7)) return NULL;
  size_t l[5];
  affine_ctx c;
  c.x = arg_f32(&a, 0, "x", &l[0], 0);
  int64_t R = arg_int(&a, 1, "R", 0);
  c.C = arg_int(&a, 2, "C", 0);
  c.mean = arg_f32(&a, 3, "mean", &l[1], 0);
  c.scale = arg_f32(&a, 4, "scale", &l[2], 0);
  c.shift = arg_f32(&a, 5, "shift", &l[3], 0);
  c.out = arg_f32(&a, 6, "out", &l[4], 0);
  {
    int64_t d[2] = {R, c.C};
    check_len(&a, "x", l[0], 2, d, "[R,C]");
    check_len(&a, "mean", l[1], 1, &c.C, "[C]");
    check_len(&a, "scale", l[2], 1, &c.C, "[C]");
    check_len(&a, "shift", l[3], 1, &c.C, "[C]");
    check_len(&a, "out", l[4], 2, d, "[R,C]");
  }
  if (a.failed) return NULL;
  parallel_range(affine_rows, &c, R, (double)(R * c.C));
  return NULL;
}

typedef struct {
  const float *dy, *inv, *gamma;
  float *dx;
  int64_t C;
} cscale_ctx;

/* dx = (dy * inv[c]) * gamma[c] (gamma may be NULL), each product rounded: TF.js' batch-norm gradient. */
static void cscale_rows(void *vctx, int64_t begin, int64_t end) {
  const cscale_ctx *c = (const cscale_ctx *)vctx;
  const int64_t C = c->C;
  for (int64_t r = begin; r < end; r++) {
    const float *dy = c->dy + r * C;
    float *dx = c->dx + r * C;
    if (c->gamma) {
      for (int64_t j = 0; j < C; j++) {
        const float t = dy[j] * c->inv[j];
        dx[j] = t * c->gamma[j];
      }
    } else {
      for (int64_t j = 0; j < C; j++) dx[j] = dy[j] * c->inv[j];
    }
  }
}

/* channelScaleGrad(dy, R, C, inv, gamma|null, dx) */
static napi_value js_channel_scale_grad(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "channelScaleGrad", 6)) return NULL;
  size_t l[4];
  cscale_ctx c;
  c.dy = arg_f32(&a, 0, "dy", &l[0], 0);
  int64_t R = arg_int(&a, 1, "R", 0);
  c.C = arg_int(&a, 2, "C", 0);
  c.inv = arg_f32(&a, 3, "inv", &l[1], 0);
  c.gamma = arg_f32(&a, 4, "gamma", &l[2], 1);
  c.dx = arg_f32(&a, 5, "dx", &l[3], 0);
  {
    int64_t d[2] = {R, c.C};
    check_len(&a, "dy", l[0], 2, d, "[R,C]");
    check_len(&a, "inv", l[1], 1, &c.C, "[C]");
    if (c.gamma) check_len(&a, "gamma", l[2], 1, &c.C, "[C]");
    check_len(&a, "dx", l[3], 2, d, "[R,C]");
  }
  if (a.failed) return NULL;
  parallel_range(cscale_rows, &c, R, (double)(R * c.C));
  return NULL;
}

/* Vector width for the float64 loops of batch norm: the same operations in the same order per
 * channel on every clone (no contraction: -ffp-contract=off), so every CPU gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE_CLONES
#endif

WIDE_CLONES static void moments_loops(const float *x, int64_t R, int64_t C, double *acc, float *mean, float *var) {
  for (int64_t r = 0; r < R; r++) {
    const float *row = x + r * C;
    for (int64_t c = 0; c < C; c++) acc[c] += (double)row[c];
  }
  for (int64_t c = 0; c < C; c++) {
    mean[c] = (float)(acc[c] / (double)R);
    acc[c] = 0.0;
  }
  for (int64_t r = 0; r < R; r++) {
    const float *row = x + r * C;
    for (int64_t c = 0; c < C; c++) {
      const float d = row[c] - mean[c];
      const float d2 = d * d;
      acc[c] += (double)d2;
    }
  }
  for (int64_t c = 0; c < C; c++) var[c] = (float)(acc[c] / (double)R);
}

/* The loops of batchNormTrainGrad; pc holds 5·C doubles of scratch. */
WIDE_CLONES static void bn_grad_loops(const float *dy, const float *x, int64_t R, int64_t C, const float *mu,
                                      const float *inv, const float *gamma, float *dx, float *sdy,
                                      float *sdyxh, double *pc) {
  double *s1 = pc, *s2 = pc + C, *m = pc + 2 * C, *iv = pc + 3 * C, *k = pc + 4 * C;
  for (int64_t c = 0; c < C; c++) {
    s1[c] = 0.0;
    s2[c] = 0.0;
    m[c] = (double)mu[c];
    iv[c] = (double)inv[c];
    k[c] = (double)inv[c] * (gamma ? (double)gamma[c] : 1.0);
  }
  for (int64_t r = 0; r < R; r++) {
    const float *g = dy + r * C, *xr = x + r * C;
    for (int64_t c = 0; c < C; c++) {
      s1[c] += (double)g[c];
      s2[c] += (double)g[c] * (((double)xr[c] - m[c]) * iv[c]);
    }
  }
  for (int64_t c = 0; c < C; c++) {
    sdy[c] = (float)s1[c];
    sdyxh[c] = (float)s2[c];
    /* from here s1, s2 hold the means the gradient subtracts */
    s1[c] /= (double)R;
    s2[c] /= (double)R;
  }
  for (int64_t r = 0; r < R; r++) {
    const float *g = dy + r * C, *xr = x + r * C;
    float *o = dx + r * C;
    for (int64_t c = 0; c < C; c++) {
      const double xh = ((double)xr[c] - m[c]) * iv[c];
      o[c] = (float)(k[c] * ((double)g[c] - s1[c] - xh * s2[c]));
    }
  }
}

/* batchMoments(x, R, C, mean, variance): per channel of x [R, C] the mean (float64 sum / R, rounded)
 * and the mean of the rounded squared deviations d = f32(x - mean), f32(d * d): tf.moments' float32
 * operations, summed in float64 (batch norm in training, src/backend/native-batch-norm.ts). */
static napi_value js_batch_moments(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "batchMoments", 5)) return NULL;
  size_t l[3];
  const float *x = arg_f32(&a, 0, "x", &l[0], 0);
  const int64_t R = arg_int(&a, 1, "R", 1), C = arg_int(&a, 2, "C", 1);
  float *mean = arg_f32(&a, 3, "mean", &l[1], 0);
  float *var = arg_f32(&a, 4, "variance", &l[2], 0);
  {
    int64_t d[2] = {R, C};
    check_len(&a, "x", l[0], 2, d, "[R,C]");
    check_len(&a, "mean", l[1], 1, &C, "[C]");
    check_len(&a, "variance", l[2], 1, &C, "[C]");
  }
  if (a.failed) return NULL;
  double *acc = (double *)calloc((size_t)C, sizeof(double));
  if (!acc) {
    napi_throw_error(env, NULL, "batchMoments: out of memory");
    return NULL;
  }
  moments_loops(x, R, C, acc, mean, var);
  free(acc);
  return NULL;
}

/* batchNormTrainGrad(dy, x, R, C, mean, inv, gamma|null, dx, sumDy, sumDyXh): the gradient of batch
 * norm through its batch statistics, with xh = (x - mean) * inv: sumDy = sum dy, sumDyXh = sum dy * xh
 * (the beta and gamma gradients) and dx = gamma * inv * (dy - (sumDy / R) - xh * (sumDyXh / R)), in
 * float64, each result rounded once. */
static napi_value js_batch_norm_train_grad(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "batchNormTrainGrad", 10)) return NULL;
  size_t l[8];
  const float *dy = arg_f32(&a, 0, "dy", &l[0], 0);
  const float *x = arg_f32(&a, 1, "x", &l[1], 0);
  const int64_t R = arg_int(&a, 2, "R", 1), C = arg_int(&a, 3, "C", 1);
  const float *mu = arg_f32(&a, 4, "mean", &l[2], 0);
  const float *inv = arg_f32(&a, 5, "inv", &l[3], 0);
  const float *gamma = arg_f32(&a, 6, "gamma", &l[4], 1);
  float *dx = arg_f32(&a, 7, "dx", &l[5], 0);
  float *sdy = arg_f32(&a, 8, "sumDy", &l[6], 0);
  float *sdyxh = arg_f32(&a, 9, "sumDyXh", &l[7], 0);
  {
    int64_t d[2] = {R, C};
    check_len(&a, "dy", l[0], 2, d, "[R,C]");
    check_len(&a, "x", l[1], 2, d, "[R,C]");
    check_len(&a, "mean", l[2], 1, &C, "[C]");
    check_len(&a, "inv", l[3], 1, &C, "[C]");
    if (gamma) check_len(&a, "gamma", l[4], 1, &C, "[C]");
    check_len(&a, "dx", l[5], 2, d, "[R,C]");
    check_len(&a, "sumDy", l[6], 1, &C, "[C]");
    check_len(&a, "sumDyXh", l[7], 1, &C, "[C]");
  }
  if (a.failed) return NULL;
  double *pc = (double *)malloc((size_t)(5 * C) * sizeof(double));
  if (!pc) {
    napi_throw_error(env, NULL, "batchNormTrainGrad: out of memory");
    return NULL;
  }
  bn_grad_loops(dy, x, R, C, mu, inv, gamma, dx, sdy, sdyxh, pc);
  free(pc);
  return NULL;
}

typedef struct {
  const float *in, *w;
  float *out;
  int64_t H, W, C, KH, KW, M, OH, OW, sH, sW, dH, dW, pT, pL;
} dw_ctx;

/* Depthwise forward, images [begin,end): out[n,oy,ox,c*M+m] = sum over in-bounds taps (ky, kx, in
 * order) of x[n,iy,ix,c] * w[ky,kx,c,m], accumulated in float32. */
static void dw_forward_images(void *vctx, int64_t begin, int64_t end) {
  const dw_ctx *g = (const dw_ctx *)vctx;
  const int64_t C = g->C, M = g->M, CM = C * M;
  for (int64_t n = begin; n < end; n++) {
    for (int64_t oy = 0; oy < g->OH; oy++) {
      for (int64_t ox = 0; ox < g->OW; ox++) {
        float *o = g->out + ((n * g->OH + oy) * g->OW + ox) * CM;
        for (int64_t j = 0; j < CM; j++) o[j] = 0.0f;
        for (int64_t ky = 0; ky < g->KH; ky++) {
          const int64_t iy = oy * g->sH - g->pT + ky * g->dH;
          if (iy < 0 || iy >= g->H) continue;
          for (int64_t kx = 0; kx < g->KW; kx++) {
            const int64_t ix = ox * g->sW - g->pL + kx * g->dW;
            if (ix < 0 || ix >= g->W) continue;
            const float *x = g->in + ((n * g->H + iy) * g->W + ix) * C;
            const float *w = g->w + (ky * g->KW + kx) * CM;
            if (M == 1) {
              for (int64_t c = 0; c < C; c++) o[c] += x[c] * w[c];
            } else {
              for (int64_t c = 0; c < C; c++)
                for (int64_t m = 0; m < M; m++) o[c * M + m] += x[c] * w[c * M + m];
            }
          }
        }
      }
    }
  }
}

/* Depthwise input gradient, images [begin,end): dx[n,iy,ix,c] += sum_m dy[n,oy,ox,c*M+m] * w[ky,kx,c,m]
 * over the output cells and taps that read it, in output order. */
static void dw_backprop_images(void *vctx, int64_t begin, int64_t end) {
  const dw_ctx *g = (const dw_ctx *)vctx; /* in = dy, out = dx */
  const int64_t C = g->C, M = g->M, CM = C * M;
  for (int64_t n = begin; n < end; n++) {
    float *dximg = g->out + n * g->H * g->W * C;
    for (int64_t j = 0; j < g->H * g->W * C; j++) dximg[j] = 0.0f;
    for (int64_t oy = 0; oy < g->OH; oy++) {
      for (int64_t ox = 0; ox < g->OW; ox++) {
        const float *dy = g->in + ((n * g->OH + oy) * g->OW + ox) * CM;
        for (int64_t ky = 0; ky < g->KH; ky++) {
          const int64_t iy = oy * g->sH - g->pT + ky * g->dH;
          if (iy < 0 || iy >= g->H) continue;
          for (int64_t kx = 0; kx < g->KW; kx++) {
            const int64_t ix = ox * g->sW - g->pL + kx * g->dW;
            if (ix < 0 || ix >= g->W) continue;
            float *dx = dximg + (iy * g->W + ix) * C;
            const float *w = g->w + (ky * g->KW + kx) * CM;
            if (M == 1) {
              for (int64_t c = 0; c < C; c++) dx[c] += dy[c] * w[c];
            } else {
              for (int64_t c = 0; c < C; c++) {
                float s = 0.0f;
                for (int64_t m = 0; m < M; m++) s += dy[c * M + m] * w[c * M + m];
                dx[c] += s;
              }
            }
          }
        }
      }
    }
  }
}

/* Shared argument parsing: (a, b, N, H, W, C, w, KH, KW, M, c, OH, OW, sH, sW, dH, dW, padTop,
 * padLeft), where forward reads a = x [N,H,W,C] and writes c = out [N,OH,OW,C*M], and backprop reads
 * a = dy [N,OH,OW,C*M] and writes c = dx [N,H,W,C]. */
static napi_value depthwise_common(napi_env env, napi_callback_info info, const char *fn, int backprop) {
  args_t a;
  if (!args_init(&a, env, info, fn, 18)) return NULL;
  size_t l[3];
  dw_ctx g;
  g.in = arg_f32(&a, 0, backprop ? "dy" : "x", &l[0], 0);
  int64_t N = arg_int(&a, 1, "N", 0);
  g.H = arg_int(&a, 2, "H", 1);
  g.W = arg_int(&a, 3, "W", 1);
  g.C = arg_int(&a, 4, "C", 1);
  g.w = arg_f32(&a, 5, "w", &l[1], 0);
  g.KH = arg_int(&a, 6, "KH", 1);
  g.KW = arg_int(&a, 7, "KW", 1);
  g.M = arg_int(&a, 8, "M", 1);
  g.out = arg_f32(&a, 9, backprop ? "dx" : "out", &l[2], 0);
  g.OH = arg_int(&a, 10, "OH", 1);
  g.OW = arg_int(&a, 11, "OW", 1);
  g.sH = arg_int(&a, 12, "sH", 1);
  g.sW = arg_int(&a, 13, "sW", 1);
  g.dH = arg_int(&a, 14, "dH", 1);
  g.dW = arg_int(&a, 15, "dW", 1);
  g.pT = arg_int(&a, 16, "padTop", 0);
  g.pL = arg_int(&a, 17, "padLeft", 0);
  {
    int64_t xs[4] = {N, g.H, g.W, g.C};
    int64_t os[4] = {N, g.OH, g.OW, g.C * g.M};
    int64_t ws[4] = {g.KH, g.KW, g.C, g.M};
    check_len(&a, backprop ? "dy" : "x", l[0], 4, backprop ? os : xs, backprop ? "[N,OH,OW,C*M]" : "[N,H,W,C]");
    check_len(&a, "w", l[1], 4, ws, "[KH,KW,C,M]");
    check_len(&a, backprop ? "dx" : "out", l[2], 4, backprop ? xs : os, backprop ? "[N,H,W,C]" : "[N,OH,OW,C*M]");
  }
  if (a.failed) return NULL;
  const double work = (double)N * (double)g.OH * g.OW * g.KH * g.KW * g.C * g.M;
  parallel_range(backprop ? dw_backprop_images : dw_forward_images, &g, N, work);
  return NULL;
}

/* depthwiseConv2d(x, N, H, W, C, w, KH, KW, M, out, OH, OW, sH, sW, dH, dW, padTop, padLeft) */
/* depthwiseConv2dBackpropFilter(x, N, H, W, C, dy, KH, KW, M, dw, OH, OW, sH, sW, dH, dW, padTop, padLeft):
 * dw[ky,kx,c,m] = sum over images and output positions of x at the tap times dy[.., c*M+m], summed in
 * float64 (images, rows, taps, columns in order) and rounded once. Serial: every image adds to dw. */
static napi_value js_depthwise_conv2d_bp_filter(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "depthwiseConv2dBackpropFilter", 18)) return NULL;
  size_t l[3];
  const float *x = arg_f32(&a, 0, "x", &l[0], 0);
  const int64_t N = arg_int(&a, 1, "N", 0), H = arg_int(&a, 2, "H", 1), W = arg_int(&a, 3, "W", 1), C = arg_int(&a, 4, "C", 1);
  const float *dy = arg_f32(&a, 5, "dy", &l[1], 0);
  const int64_t KH = arg_int(&a, 6, "KH", 1), KW = arg_int(&a, 7, "KW", 1), M = arg_int(&a, 8, "M", 1);
  float *dw = arg_f32(&a, 9, "dw", &l[2], 0);
  const int64_t OH = arg_int(&a, 10, "OH", 1), OW = arg_int(&a, 11, "OW", 1), sH = arg_int(&a, 12, "sH", 1), sW = arg_int(&a, 13, "sW", 1);
  const int64_t dH = arg_int(&a, 14, "dH", 1), dW = arg_int(&a, 15, "dW", 1), pT = arg_int(&a, 16, "padTop", 0), pL = arg_int(&a, 17, "padLeft", 0);
  const int64_t CM = C * M;
  {
    int64_t xs[4] = {N, H, W, C}, os[4] = {N, OH, OW, CM}, ws[4] = {KH, KW, C, M};
    check_len(&a, "x", l[0], 4, xs, "[N,H,W,C]");
    check_len(&a, "dy", l[1], 4, os, "[N,OH,OW,C*M]");
    check_len(&a, "dw", l[2], 4, ws, "[KH,KW,C,M]");
  }
  if (a.failed) return NULL;
  double *acc = (double *)calloc((size_t)(KH * KW * CM), sizeof(double));
  if (!acc) {
    napi_throw_error(env, NULL, "depthwiseConv2dBackpropFilter: out of memory");
    return NULL;
  }
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      for (int64_t ky = 0; ky < KH; ky++) {
        const int64_t iy = oy * sH - pT + ky * dH;
        if (iy < 0 || iy >= H) continue;
        for (int64_t ox = 0; ox < OW; ox++) {
          const float *g = dy + ((n * OH + oy) * OW + ox) * CM;
          for (int64_t kx = 0; kx < KW; kx++) {
            const int64_t ix = ox * sW - pL + kx * dW;
            if (ix < 0 || ix >= W) continue;
            const float *xr = x + ((n * H + iy) * W + ix) * C;
            double *k = acc + (ky * KW + kx) * CM;
            for (int64_t c = 0; c < C; c++) {
              const double xv = (double)xr[c];
              for (int64_t m = 0; m < M; m++) k[c * M + m] += xv * (double)g[c * M + m];
            }
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < KH * KW * CM; i++) dw[i] = (float)acc[i];
  free(acc);
  return NULL;
}

static napi_value js_depthwise_conv2d(napi_env env, napi_callback_info info) {
  return depthwise_common(env, info, "depthwiseConv2d", 0);
}

/* depthwiseConv2dBackpropInput(dy, N, H, W, C, w, KH, KW, M, dx, OH, OW, sH, sW, dH, dW, padTop, padLeft) */
static napi_value js_depthwise_conv2d_bp_input(napi_env env, napi_callback_info info) {
  return depthwise_common(env, info, "depthwiseConv2dBackpropInput", 1);
}

typedef struct {
  const float *x, *dy;
  float *out;
  float lo, hi;
  int inclusive;
} clamp_ctx;

/* out = min(max(x, lo), hi): relu6 (0, 6) and a ReLU layer's maxValue clip. */
static void clamp_range(void *vctx, int64_t begin, int64_t end) {
  const clamp_ctx *c = (const clamp_ctx *)vctx;
  for (int64_t i = begin; i < end; i++) {
    const float v = c->x[i];
    c->out[i] = v < c->lo ? c->lo : (v > c->hi ? c->hi : v);
  }
}

/* out = dy where lo < x < hi (x <= hi when inclusive), else 0: the masks of TF.js' relu6 and clip gradients. */
static void clamp_grad_range(void *vctx, int64_t begin, int64_t end) {
  const clamp_ctx *c = (const clamp_ctx *)vctx;
  for (int64_t i = begin; i < end; i++) {
    const float v = c->x[i];
    const int pass = v > c->lo && (c->inclusive ? v <= c->hi : v < c->hi);
    c->out[i] = pass ? c->dy[i] : 0.0f;
  }
}

/* clamp(x, n, lo, hi, out) */
static napi_value js_clamp(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "clamp", 5)) return NULL;
  size_t l[2];
  clamp_ctx c;
  c.x = arg_f32(&a, 0, "x", &l[0], 0);
  int64_t n = arg_int(&a, 1, "n", 0);
  c.lo = arg_f(&a, 2, "lo");
  c.hi = arg_f(&a, 3, "hi");
  c.out = arg_f32(&a, 4, "out", &l[1], 0);
  c.dy = NULL;
  c.inclusive = 0;
  check_len(&a, "x", l[0], 1, &n, "[n]");
  check_len(&a, "out", l[1], 1, &n, "[n]");
  if (a.failed) return NULL;
  parallel_range(clamp_range, &c, n, (double)n);
  return NULL;
}

typedef struct {
  const float *a, *b;
  float *out;
} add_ctx;

static void add_range(void *vctx, int64_t begin, int64_t end) {
  const add_ctx *c = (const add_ctx *)vctx;
  for (int64_t i = begin; i < end; i++) c->out[i] = c->a[i] + c->b[i];
}

/* add(a, b, n, out): out = a + b, element-wise in float32 (a residual Add; out may be a). */
static napi_value js_add(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "add", 4)) return NULL;
  size_t l[3];
  add_ctx c;
  c.a = arg_f32(&a, 0, "a", &l[0], 0);
  c.b = arg_f32(&a, 1, "b", &l[1], 0);
  int64_t n = arg_int(&a, 2, "n", 0);
  c.out = arg_f32(&a, 3, "out", &l[2], 0);
  check_len(&a, "a", l[0], 1, &n, "[n]");
  check_len(&a, "b", l[1], 1, &n, "[n]");
  check_len(&a, "out", l[2], 1, &n, "[n]");
  if (a.failed) return NULL;
  parallel_range(add_range, &c, n, (double)n / 4.0);
  return NULL;
}

/* Smooth activations (swish, sigmoid, ELU, GELU) forward and backward, element-wise in float32.
 * exp is computed by vexpf below rather than libm's expf so that the loops vectorise (libm's is one
 * call per element, ~4x slower than the whole activation): the results are within a few float32 ulps
 * of TF.js', as the JavaScript fallback's are. */
enum { ACT_SWISH = 0, ACT_SIGMOID = 1, ACT_ELU = 2, ACT_GELU = 3, ACT_COUNT = 4 };

/* exp(x): x = k·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 Taylor polynomial (truncation < 1e-8
 * relative), times 2^k as two powers of two built from exponent bits (k reaches 128 at 88.7, one more
 * than a float's exponent holds). Below −87.3365 (e^x under the smallest normal float) the result is 0,
 * above 88.7228 infinity; NaN stays NaN. The clamp sends NaN to the low end, so no conversion sees it. */
static inline float vexpf(float x0) {
  const float x = x0 > -87.34f ? (x0 < 88.73f ? x0 : 88.73f) : -87.34f;
  const float k = __builtin_rintf(x * 1.44269504088896341f);
  const float r = (x - k * 0.693145751953125f) - k * 1.42860682030941723e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t ki = (int32_t)k, k1 = ki / 2, k2 = ki - k1; /* each in [−63, 64] */
  const uint32_t b1 = (uint32_t)(k1 + 127) << 23, b2 = (uint32_t)(k2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, sizeof s1);
  memcpy(&s2, &b2, sizeof s2);
  const float e = (p * s1) * s2;
  return x0 < -87.33654f ? 0.0f : (x0 > 88.72283f ? INFINITY : (x0 != x0 ? x0 : e));
}

/* erf by Abramowitz–Stegun 7.1.26, the approximation TF.js' erf kernels (and the fallback) use. */
static inline float aserf(float v) {
  const float a = v < 0.0f ? -v : v;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  const float y = 1.0f - poly * vexpf(-a * a);
  return v < 0.0f ? -y : y;
}

typedef struct {
  int kind;
  const float *x, *y, *dy;
  float *out;
} act_ctx;

WIDE_CLONES static void act_forward_loop(int kind, const float *x, float *out, int64_t begin, int64_t end) {
  switch (kind) {
  case ACT_SWISH:
    for (int64_t i = begin; i < end; i++) {
      const float v = x[i];
      out[i] = v * (1.0f / (1.0f + vexpf(-v)));
    }
    break;
  case ACT_SIGMOID:
    for (int64_t i = begin; i < end; i++) out[i] = 1.0f / (1.0f + vexpf(-x[i]));
    break;
  case ACT_ELU:
    for (int64_t i = begin; i < end; i++) {
      const float v = x[i];
      out[i] = v >= 0.0f ? v : vexpf(v) - 1.0f;
    }
    break;
  default: /* ACT_GELU: x·Φ(x), Φ(x) = 0.5·(1 + erf(x/√2)) */
    for (int64_t i = begin; i < end; i++) {
      const float v = x[i];
      out[i] = v * (0.5f * (1.0f + aserf(v * 0.70710678118654752f)));
    }
    break;
  }
}

WIDE_CLONES static void act_backward_loop(int kind, const float *dy, const float *x, const float *y, float *out, int64_t begin, int64_t end) {
  switch (kind) {
  case ACT_SWISH: /* dy·s + dy·x·s(1 − s), s = sigmoid(x) */
    for (int64_t i = begin; i < end; i++) {
      const float v = x[i], g = dy[i];
      const float s = 1.0f / (1.0f + vexpf(-v));
      out[i] = g * s + (g * v) * (s * (1.0f - s));
    }
    break;
  case ACT_SIGMOID: /* from the output: dy·y(1 − y) */
    for (int64_t i = begin; i < end; i++) out[i] = dy[i] * (y[i] * (1.0f - y[i]));
    break;
  case ACT_ELU: /* from the output, as TF.js' EluGrad: dy where y ≥ 0, else dy·(y + 1) */
    for (int64_t i = begin; i < end; i++) out[i] = y[i] >= 0.0f ? dy[i] : dy[i] * (y[i] + 1.0f);
    break;
  default: /* ACT_GELU: dy·Φ(x) + dy·x·φ(x), φ(x) = e^(−x²/2)/√(2π) */
    for (int64_t i = begin; i < end; i++) {
      const float v = x[i], g = dy[i];
      const float u = v * 0.70710678118654752f;
      const float cdf = 0.5f * (1.0f + aserf(u));
      const float pdf = 0.39894228040143268f * vexpf(-u * u);
      out[i] = g * cdf + (g * v) * pdf;
    }
    break;
  }
}

static void act_forward_range(void *vctx, int64_t begin, int64_t end) {
  const act_ctx *c = (const act_ctx *)vctx;
  act_forward_loop(c->kind, c->x, c->out, begin, end);
}

static void act_backward_range(void *vctx, int64_t begin, int64_t end) {
  const act_ctx *c = (const act_ctx *)vctx;
  act_backward_loop(c->kind, c->dy, c->x, c->y, c->out, begin, end);
}

static int arg_kind(args_t *a, int i) {
  const int64_t k = arg_int(a, i, "kind", 0);
  if (!a->failed && k >= ACT_COUNT) throw_range_msg(a, "'kind' must be 0 (swish), 1 (sigmoid), 2 (elu) or 3 (gelu)");
  return (int)k;
}

/* activation(kind, x, n, out): out = f(x) (out may be x). */
static napi_value js_activation(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "activation", 4)) return NULL;
  size_t l[2];
  act_ctx c;
  c.kind = arg_kind(&a, 0);
  c.x = arg_f32(&a, 1, "x", &l[0], 0);
  int64_t n = arg_int(&a, 2, "n", 0);
  c.out = arg_f32(&a, 3, "out", &l[1], 0);
  c.y = c.dy = NULL;
  check_len(&a, "x", l[0], 1, &n, "[n]");
  check_len(&a, "out", l[1], 1, &n, "[n]");
  if (a.failed) return NULL;
  parallel_range(act_forward_range, &c, n, 8.0 * (double)n);
  return NULL;
}

/* activationGrad(kind, dy, x, y, n, out): out = dy·f'(x), from the input x and the output y = f(x)
 * (sigmoid and ELU read y, swish and GELU x, as TF.js' gradients do). */
static napi_value js_activation_grad(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "activationGrad", 6)) return NULL;
  size_t l[4];
  act_ctx c;
  c.kind = arg_kind(&a, 0);
  c.dy = arg_f32(&a, 1, "dy", &l[0], 0);
  c.x = arg_f32(&a, 2, "x", &l[1], 0);
  c.y = arg_f32(&a, 3, "y", &l[2], 0);
  int64_t n = arg_int(&a, 4, "n", 0);
  c.out = arg_f32(&a, 5, "out", &l[3], 0);
  check_len(&a, "dy", l[0], 1, &n, "[n]");
  check_len(&a, "x", l[1], 1, &n, "[n]");
  check_len(&a, "y", l[2], 1, &n, "[n]");
  check_len(&a, "out", l[3], 1, &n, "[n]");
  if (a.failed) return NULL;
  parallel_range(act_backward_range, &c, n, 8.0 * (double)n);
  return NULL;
}

/* clampGrad(dy, x, n, lo, hi, inclusive, out) */
static napi_value js_clamp_grad(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "clampGrad", 7)) return NULL;
  size_t l[3];
  clamp_ctx c;
  c.dy = arg_f32(&a, 0, "dy", &l[0], 0);
  c.x = arg_f32(&a, 1, "x", &l[1], 0);
  int64_t n = arg_int(&a, 2, "n", 0);
  c.lo = arg_f(&a, 3, "lo");
  c.hi = arg_f(&a, 4, "hi");
  c.inclusive = arg_bool(&a, 5, "inclusive");
  c.out = arg_f32(&a, 6, "out", &l[2], 0);
  check_len(&a, "dy", l[0], 1, &n, "[n]");
  check_len(&a, "x", l[1], 1, &n, "[n]");
  check_len(&a, "out", l[2], 1, &n, "[n]");
  if (a.failed) return NULL;
  parallel_range(clamp_grad_range, &c, n, (double)n);
  return NULL;
}

static napi_value js_num_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, openblas_get_num_threads(), &r);
  return r;
}

/* Which convolution kernels run where they apply: "avx512" or "avx2" (direct, for few output
 * channels; the rest im2col + GEMM), or "gemm" (no direct kernels: the CPU, the build, or
 * ALP_NATIVE_DIRECT_CONV=0). For bench headers and tests. */
static napi_value js_conv_kernels(napi_env env, napi_callback_info info) {
  (void)info;
  const char *k = "gemm";
#ifdef ALP_DIRECT
  if (direct_mode() > 0) k = g_z512 ? "avx512" : "avx2";
#endif
  napi_value r;
  napi_create_string_utf8(env, k, NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value js_set_num_threads(napi_env env, napi_callback_info info) {
  args_t a;
  if (!args_init(&a, env, info, "setNumThreads", 1)) return NULL;
  int64_t n = arg_int(&a, 0, "n", 1);
  if (a.failed) return NULL;
  if (n > 1024) n = 1024;
  openblas_set_num_threads((int)n);
  g_threads = (int)n;
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Module init                                                               */
/* ------------------------------------------------------------------------ */

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  alp_state *st = (alp_state *)calloc(1, sizeof(alp_state));
  if (!st || napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) {
    free(st);
    napi_throw_error(env, NULL, "alp_native: cannot set instance data");
    return NULL;
  }
  const char *kb = getenv("ALP_NATIVE_CHUNK_KB");
  if (kb && *kb) {
    char *endp = NULL;
    errno = 0;
    long v = strtol(kb, &endp, 10);
    if (errno == 0 && endp && *endp == '\0' && v >= 4 && v <= 4L * 1024 * 1024)
      g_chunk_floats = (size_t)v * 256;
  }
#ifdef ALP_DIRECT
  (void)direct_mode(); /* read ALP_NATIVE_DIRECT_CONV and the CPU's features before any call */
#endif
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, js_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropInput", NULL, js_conv2d_bp_input, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"conv2dBackpropFilter", NULL, js_conv2d_bp_filter, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"maxPoolGrad", NULL, js_max_pool_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPool", NULL, js_max_pool, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluGrad", NULL, js_relu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addRow", NULL, js_add_row, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumRows", NULL, js_sum_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamUpdate", NULL, js_adam_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"biasAct", NULL, js_bias_act, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linfPgdStep", NULL, js_linf_pgd_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelAffine", NULL, js_channel_affine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelScaleGrad", NULL, js_channel_scale_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseConv2dBackpropFilter", NULL, js_depthwise_conv2d_bp_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"batchMoments", NULL, js_batch_moments, NULL, NULL, NULL, napi_enumerable, NULL},
      {"batchNormTrainGrad", NULL, js_batch_norm_train_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseConv2d", NULL, js_depthwise_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseConv2dBackpropInput", NULL, js_depthwise_conv2d_bp_input, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"clamp", NULL, js_clamp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clampGrad", NULL, js_clamp_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"numThreads", NULL, js_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, js_set_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convKernels", NULL, js_conv_kernels, NULL, NULL, NULL, napi_enumerable, NULL},
      {"add", NULL, js_add, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activation", NULL, js_activation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activationGrad", NULL, js_activation_grad, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}
