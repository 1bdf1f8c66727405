// Kernels of ckernels.h. Each body is written once with 16-lane vector types (clang's vector extensions) and
// compiled three times, for AVX-512, for AVX2+FMA and for baseline x86-64 (other architectures: once, for
// the default target). Tails shorter than 16 go through a padded vector so every element sees the same
// arithmetic. Multiply-adds contract to FMA where the target has it.
// The 16-lane vectors never cross a call boundary (everything is always_inline), so no ABI is involved.
#pragma clang diagnostic ignored "-Wpsabi"

#include "ckernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));
enum { W = 16 };

#define INLINE static inline __attribute__((always_inline))

INLINE vf splat(float x) { return (vf){0} + x; }
INLINE vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
INLINE void store(float *p, vf v) { memcpy(p, &v, sizeof v); }
/// The first n (< W) floats of p, the rest `fill`.
INLINE vf load_tail(const float *p, long n, float fill) {
    vf v = splat(fill);
    for (long i = 0; i < n; i++) v[i] = p[i];
    return v;
}
INLINE void store_tail(float *p, vf v, long n) { for (long i = 0; i < n; i++) p[i] = v[i]; }
INLINE vf blend(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
INLINE float hsum(vf v) {
    float s = 0;
    for (int i = 0; i < W; i++) s += v[i];
    return s;
}
INLINE float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite), degree-7 Taylor for e^r (relative error ≈ 1e-7),
/// 2^n built in the exponent bits; x clamped to [-87.3, 88.3].
INLINE vf vexp(vf x) {
    x = blend(x < -87.3f, splat(-87.3f), x);
    x = blend(x > 88.3f, splat(88.3f), x);
    const vf magic = splat(12582912.0f);  // 1.5·2^23: adding it rounds to an integer
    vf shifted = x * 1.44269504f + magic;
    vf n = shifted - magic;
    vf r = (x - n * 0.69314575f) - n * 1.4286068e-6f;
    vf p = splat(1.0f / 5040);
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1;
    p = p * r + 1;
    vi ni = (vi)shifted - 0x4B400000;
    return p * (vf)((ni + 127) << 23);
}

/// erf, absolute error ≤ 2e-7: below 1 the Maclaurin series (12 terms), from 1 Abramowitz & Stegun 7.1.26.
INLINE vf verf(vf x) {
    vf a = (vf)((vi)x & 0x7FFFFFFF);
    vf z = a * a;
    vf s = splat(-1.2290555e-9f);
    s = s * z + 1.4807193e-8f;
    s = s * z - 1.6365844e-7f;
    s = s * z + 1.6462114e-6f;
    s = s * z - 1.492565e-5f;
    s = s * z + 1.2055333e-4f;
    s = s * z - 8.548327e-4f;
    s = s * z + 5.2239778e-3f;
    s = s * z - 2.6866172e-2f;
    s = s * z + 1.1283792e-1f;
    s = s * z - 3.7612638e-1f;
    s = s * z + 1.1283792f;
    s = s * a;
    vf t = 1 / (1 + 0.3275911f * a);
    vf q = splat(1.061405429f);
    q = q * t - 1.453152027f;
    q = q * t + 1.421413741f;
    q = q * t - 0.284496736f;
    q = q * t + 0.254829592f;
    q = q * t;
    vf tail = 1 - q * vexp(-z);
    vf y = blend(a < 1, s, tail);
    return (vf)((vi)y | ((vi)x & (int)0x80000000));  // erf is odd: copy x's sign
}

INLINE vf vgelu(vf x) { return 0.5f * x * (1 + verf(x * 0.70710678118654752f)); }

INLINE void gelu_into_body(const float *in, float *out, long n) {
    long i = 0;
    for (; i + W <= n; i += W) store(out + i, vgelu(load(in + i)));
    if (i < n) store_tail(out + i, vgelu(load_tail(in + i, n - i, 0)), n - i);
}

/// gradient ← gradient · gelu′(input), gelu′(x) = Φ(x) + x·φ(x).
INLINE void gelu_backward_body(const float *in, float *grad, long n) {
    long i = 0;
    for (; i + W <= n; i += W) {
        vf x = load(in + i);
        vf d = 0.5f * (1 + verf(x * 0.70710678118654752f)) + x * (vexp(-0.5f * x * x) * 0.39894228040143268f);
        store(grad + i, load(grad + i) * d);
    }
    if (i < n) {
        long k = n - i;
        vf x = load_tail(in + i, k, 0);
        vf d = 0.5f * (1 + verf(x * 0.70710678118654752f)) + x * (vexp(-0.5f * x * x) * 0.39894228040143268f);
        store_tail(grad + i, load_tail(grad + i, k, 0) * d, k);
    }
}

INLINE void bias_rows_body(float *y, const float *bias, long rows, long cols, int gelu) {
    for (long r = 0; r < rows; r++) {
        float *row = y + r * cols;
        long i = 0;
        if (gelu) {
            for (; i + W <= cols; i += W) store(row + i, vgelu(load(row + i) + load(bias + i)));
            if (i < cols) {
                long n = cols - i;
                store_tail(row + i, vgelu(load_tail(row + i, n, 0) + load_tail(bias + i, n, 0)), n);
            }
        } else {
            for (; i + W <= cols; i += W) store(row + i, load(row + i) + load(bias + i));
            for (; i < cols; i++) row[i] += bias[i];
        }
    }
}

INLINE void softmax_rows_body(float *x, long rows, long width, long stride) {
    long full = width / W * W, n = width - full;
    for (long r = 0; r < rows; r++) {
        float *p = x + r * stride;
        vf mv = splat(-__builtin_inff());
        for (long i = 0; i < full; i += W) { vf v = load(p + i); mv = blend(v > mv, v, mv); }
        if (n) { vf v = load_tail(p + full, n, -__builtin_inff()); mv = blend(v > mv, v, mv); }
        vf m = splat(hmax(mv));
        vf acc = splat(0);
        for (long i = 0; i < full; i += W) { vf e = vexp(load(p + i) - m); store(p + i, e); acc += e; }
        if (n) {
            vf e = vexp(load_tail(p + full, n, 0) - m);
            e = blend((vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} < (int)n, e, splat(0));
            store_tail(p + full, e, n);
            acc += e;
        }
        vf inv = splat(1 / hsum(acc));
        for (long i = 0; i < full; i += W) store(p + i, load(p + i) * inv);
        if (n) store_tail(p + full, load_tail(p + full, n, 0) * inv, n);
    }
}

/// The normalised row: (x − mean)·rstd·gamma + beta, one expression shared by both LayerNorm entry points.
INLINE void normalize_row(const float *xr, float *orow, long width, const float *gamma, const float *beta,
                          float mean, float rstd) {
    vf m = splat(mean), s = splat(rstd);
    long i = 0;
    for (; i + W <= width; i += W) store(orow + i, (load(xr + i) - m) * s * load(gamma + i) + load(beta + i));
    if (i < width) {
        long n = width - i;
        store_tail(orow + i, (load_tail(xr + i, n, 0) - m) * s * load_tail(gamma + i, n, 0) + load_tail(beta + i, n, 0), n);
    }
}

INLINE void layer_norm_body(const float *x, float *out, long rows, long width, const float *gamma,
                            const float *beta, float eps, float *mean_out, float *rstd_out) {
    long full = width / W * W, n = width - full;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * width;
        vf acc = splat(0);
        for (long i = 0; i < full; i += W) acc += load(xr + i);
        if (n) acc += load_tail(xr + full, n, 0);
        float mean = hsum(acc) / (float)width;
        vf m = splat(mean), acc2 = splat(0);
        for (long i = 0; i < full; i += W) { vf d = load(xr + i) - m; acc2 += d * d; }
        if (n) {
            vf d = load_tail(xr + full, n, mean) - m;
            acc2 += d * d;
        }
        float rstd = 1 / __builtin_sqrtf(hsum(acc2) / (float)width + eps);
        normalize_row(xr, out + r * width, width, gamma, beta, mean, rstd);
        if (mean_out) mean_out[r] = mean;
        if (rstd_out) rstd_out[r] = rstd;
    }
}

INLINE void layer_norm_stats_body(const float *x, float *out, long rows, long width, const float *gamma,
                                  const float *beta, const float *mean, const float *rstd) {
    for (long r = 0; r < rows; r++) normalize_row(x + r * width, out + r * width, width, gamma, beta, mean[r], rstd[r]);
}

// One set of entry points per instruction set.
#define VARIANT(suffix, attr)                                                                                    \
    attr static void gelu_into_##suffix(const float *in, float *out, long n) { gelu_into_body(in, out, n); }     \
    attr static void gelu_backward_##suffix(const float *in, float *g, long n) { gelu_backward_body(in, g, n); } \
    attr static void bias_rows_##suffix(float *y, const float *b, long rows, long cols, int g) {                 \
        bias_rows_body(y, b, rows, cols, g);                                                                     \
    }                                                                                                            \
    attr static void softmax_rows_##suffix(float *x, long rows, long width, long stride) {                       \
        softmax_rows_body(x, rows, width, stride);                                                               \
    }                                                                                                            \
    attr static void layer_norm_##suffix(const float *x, float *o, long rows, long w, const float *g,            \
                                         const float *b, float eps, float *m, float *s) {                        \
        layer_norm_body(x, o, rows, w, g, b, eps, m, s);                                                         \
    }                                                                                                            \
    attr static void layer_norm_stats_##suffix(const float *x, float *o, long rows, long w, const float *g,      \
                                               const float *b, const float *m, const float *s) {                 \
        layer_norm_stats_body(x, o, rows, w, g, b, m, s);                                                        \
    }

struct table {
    void (*gelu_into)(const float *, float *, long);
    void (*gelu_backward)(const float *, float *, long);
    void (*bias_rows)(float *, const float *, long, long, int);
    void (*softmax_rows)(float *, long, long, long);
    void (*layer_norm)(const float *, float *, long, long, const float *, const float *, float, float *, float *);
    void (*layer_norm_stats)(const float *, float *, long, long, const float *, const float *, const float *,
                             const float *);
};
#define TABLE(suffix) \
    { gelu_into_##suffix, gelu_backward_##suffix, bias_rows_##suffix, softmax_rows_##suffix, layer_norm_##suffix, layer_norm_stats_##suffix }

#if defined(__x86_64__)
VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,f16c"))))
VARIANT(avx2, __attribute__((target("avx2,fma,f16c"))))
VARIANT(baseline, )
static const struct table tables[3] = {TABLE(baseline), TABLE(avx2), TABLE(avx512)};

static int hardware_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        return DFK_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DFK_ISA_AVX2;
    return DFK_ISA_BASELINE;
}
#else
VARIANT(baseline, )
static const struct table tables[1] = {TABLE(baseline)};
static int hardware_level(void) { return DFK_ISA_BASELINE; }
#endif

int dfk_isa_environment(void) {
    const char *want = getenv("DEEPFAKE_ISA");
    if (!want || !*want) return -1;
    if (!strcasecmp(want, "baseline")) return DFK_ISA_BASELINE;
    if (!strcasecmp(want, "avx2")) return DFK_ISA_AVX2;
    if (!strcasecmp(want, "avx512")) return DFK_ISA_AVX512;
    return -2;
}

int dfk_isa_supported(void) {
    int level = hardware_level(), cap = dfk_isa_environment();
    if (cap == -2) return DFK_ISA_BASELINE;  // an unknown name never picks wider units than asked; callers report it
    return cap >= 0 && cap < level ? cap : level;
}

static _Atomic int chosen = -1;

int dfk_isa(void) {
    int level = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (level < 0) {
        level = dfk_isa_supported();
        atomic_store_explicit(&chosen, level, memory_order_relaxed);
    }
    return level;
}

void dfk_force_isa(int level) {
    int best = dfk_isa_supported();
    if (level > best) level = best;
    if (level < 0) level = 0;
    atomic_store_explicit(&chosen, level, memory_order_relaxed);
}

static inline const struct table *kernels(void) { return &tables[dfk_isa()]; }

void dfk_gelu(float *p, long n) { kernels()->gelu_into(p, p, n); }
void dfk_gelu_into(const float *in, float *out, long n) { kernels()->gelu_into(in, out, n); }
void dfk_gelu_backward(const float *input, float *gradient, long n) { kernels()->gelu_backward(input, gradient, n); }
void dfk_bias_rows(float *y, const float *bias, long rows, long cols, int gelu) {
    kernels()->bias_rows(y, bias, rows, cols, gelu);
}
void dfk_softmax_rows(float *x, long rows, long width, long stride) { kernels()->softmax_rows(x, rows, width, stride); }
void dfk_layer_norm(const float *x, float *out, long rows, long width, const float *gamma, const float *beta,
                    float eps, float *mean, float *rstd) {
    kernels()->layer_norm(x, out, rows, width, gamma, beta, eps, mean, rstd);
}
void dfk_layer_norm_from_statistics(const float *x, float *out, long rows, long width, const float *gamma,
                                    const float *beta, const float *mean, const float *rstd) {
    kernels()->layer_norm_stats(x, out, rows, width, gamma, beta, mean, rstd);
}
