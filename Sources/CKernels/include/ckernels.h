// Elementwise and row kernels of the ViT forward, compiled for three instruction sets (AVX-512, AVX2+FMA,
// baseline SSE2) and chosen once at run time from the CPU, so one binary runs everywhere and uses the
// widest vector units it finds. Swift's own code is compiled for baseline x86-64 (no FMA, no AVX).
#ifndef DEEPFAKE_CKERNELS_H
#define DEEPFAKE_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels; `dfk_isa()` reports the one in use.
enum { DFK_ISA_BASELINE = 0, DFK_ISA_AVX2 = 1, DFK_ISA_AVX512 = 2 };

/// The level in use: the best supported one unless `dfk_force_isa` lowered it.
int dfk_isa(void);
/// The best level this CPU supports, capped by DEEPFAKE_ISA (baseline|avx2|avx512, any case), which imitates
/// a CPU with fewer vector units; an unknown DEEPFAKE_ISA caps at baseline.
int dfk_isa_supported(void);
/// DEEPFAKE_ISA as a level: -1 when unset or empty, -2 when it names no level.
int dfk_isa_environment(void);
/// Uses `level` (clamped to what the CPU supports) from now on; for tests and benchmarks.
void dfk_force_isa(int level);

/// p[i] = 0.5·p[i]·(1 + erf(p[i]/√2)), exact-erf GELU (|erf error| ≤ 2e-7), in place, n floats.
void dfk_gelu(float *p, long n);
/// out[i] = gelu(in[i]) (may alias).
void dfk_gelu_into(const float *in, float *out, long n);
/// gradient[i] ·= gelu′(input[i]) = Φ(x) + x·φ(x), the exact-erf GELU's derivative.
void dfk_gelu_backward(const float *input, float *gradient, long n);
/// y[r, :] += bias for `rows` rows of `cols`; then, if `gelu`, y = gelu(y). One pass over y.
void dfk_bias_rows(float *y, const float *bias, long rows, long cols, int gelu);
/// Softmax of each row in place: rows of `width` floats, `stride` apart.
void dfk_softmax_rows(float *x, long rows, long width, long stride);
/// LayerNorm of `rows` rows of `width` (biased variance); x and out may alias. `mean` and `rstd`, when not
/// NULL, receive each row's mean and 1/√(var + eps).
void dfk_layer_norm(const float *x, float *out, long rows, long width, const float *gamma, const float *beta,
                    float eps, float *mean, float *rstd);
/// out = (x − mean)·rstd·gamma + beta with recorded statistics: bit-identical to `dfk_layer_norm`'s output.
void dfk_layer_norm_from_statistics(const float *x, float *out, long rows, long width, const float *gamma,
                                    const float *beta, const float *mean, const float *rstd);

/// A team of `size` ranks (the caller of a run is rank 0, the others dedicated threads) that run one function
/// together and meet at barriers. Teams live for the life of the process.
typedef struct dfk_team dfk_team;
/// A new team; a team with fewer threads than asked when the system refuses threads (see dfk_team_size).
dfk_team *dfk_team_create(int size);
/// One team per size, shared by the whole process and made on first use.
dfk_team *dfk_team_shared(int size);
int dfk_team_size(const dfk_team *team);
/// Runs fn(ctx, rank) on every rank and returns when all are done. Runs on one team are serialised.
void dfk_team_run(dfk_team *team, void (*fn)(void *ctx, int rank), void *ctx);
/// Inside a run: waits until every rank has reached the same barrier.
void dfk_team_barrier(dfk_team *team);

/// Borrows a 64-byte-aligned buffer of at least `count` floats (contents undefined) from a process-wide pool;
/// NULL only when memory is exhausted. Give it back with dfk_scratch_release.
float *dfk_scratch_acquire(size_t count);
void dfk_scratch_release(float *buffer);

#ifdef __cplusplus
}
#endif
#endif
