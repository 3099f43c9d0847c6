// One Keras LSTM layer over a whole sequence, forward and backward, each as one XLA FFI
// custom call for a chunk of members (issue 29 item 3, prototype; not part of fastlstm).
//
// Layout per member (members are the flattened leading dims, as ffi_call's
// vmap_method="broadcast_all" adds them): x (T, B, F) time-major, W (F, 4U), R (U, 4U),
// b (4U), gates i, f, c, o in Keras's column order. Per step ONE sgemm
// [x_t | h_{t-1}] (B, F+U) @ [W; R] (F+U, 4U), then one pass over the gate block that
// applies the activations, updates c and h, and writes the backward's factors. The
// backward step: one pass (dc, dz, db), one sgemm dz @ [W; R]^T (dx and dh_{t-1}), and
// one accumulating sgemm [x_t | h_{t-1}]^T @ dz (dW and dR).
//
// Residuals: xh (T, B, F+U) = [x_t | h_{t-1}] (the forward's own matmul operand, so no
// extra store) and fac (T, B, 6U) = [g*i', c_{t-1}*f', i*g', tanh(c)*o', o*(1-tanh(c)^2), f]
// (the same factors as fastlstm.engine._recurrence, so the backward is two multiplies).
//
// BLAS: the sgemm of numpy's bundled OpenBLAS (scipy_cblas_sgemm64_, ILP64), found at
// run time with dlopen (fused_lstm_init(path)); nothing is linked at build time.

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// CBLAS enums (row major = 101, no trans = 111, trans = 112).
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using sgemm_fn = void (*)(int, int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
sgemm_fn g_sgemm = nullptr;

// Optional profile (fused_lstm_profile): nanoseconds in sgemm and in the gate passes,
// summed over threads; on when g_profile is set by fused_lstm_set_profile(1).
std::atomic<int64_t> g_ns_gemm{0}, g_ns_gate{0};
bool g_profile = false;
bool g_prefetch = true;  // backward: prefetch step t-1's residuals during step t
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float beta, float* c, int64_t ldc) {
  int64_t t0 = g_profile ? now_ns() : 0;
  g_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  if (g_profile) g_ns_gemm += now_ns() - t0;
}

// Rational tanh with Eigen's fast float tanh coefficients (as XLA:CPU has used) (|x| < 4e-4
// -> x), written so that g++ -O3 vectorizes the loops that call it.
inline float fast_tanh(float x) {
  const float c = 7.90531110763549805f;
  float xc = x > c ? c : (x < -c ? -c : x);
  float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float r = p / q;
  return std::fabs(x) < 0.0004f ? x : r;
}
inline float fast_sigmoid(float x) { return 0.5f * fast_tanh(0.5f * x) + 0.5f; }


struct Dims {
  int64_t members, T, B, F, U;
};

// ---------------------------------------------------------------------------------
// AVX-512 kernels for the common case (U % 16 == 0, B % 4 == 0): the gate math is done
// on the matmul's accumulators, so the (B, 4U) pre-activation block never goes to memory.
#ifdef __AVX512F__
#include <immintrin.h>
// The forward's factor stores: plain by default. Experiments (micro.cc, W1, one member):
// non-temporal stores (-DFAC_STREAM, needs a 64-byte aligned buffer) changed nothing,
// no stores at all (-DFAC_NONE, wrong numbers) saved ~3 of ~47 us per step: the forward
// is compute-bound, not store-bound.
#ifdef FAC_NONE
#define STORE_FAC(p, v) (void)(v)
#elif defined(FAC_STREAM)
#define STORE_FAC(p, v) _mm512_stream_ps(p, v)
#else
#define STORE_FAC(p, v) _mm512_storeu_ps(p, v)
#endif
#ifndef FWD_ROWS
#define FWD_ROWS 4
#endif
int g_impl = 1;  // 1 (default): own kernels, separate backward elementwise pass; 2: the backward
                 // elementwise step fused into the dh kernel's epilogue (slower: ~75 vs ~57 us per
                 // member-step in micro.cc); 0: OpenBLAS sgemm + separate gate passes (any shape)

__attribute__((always_inline)) inline __m512 vtanh(__m512 x) {
  const __m512 c = _mm512_set1_ps(7.90531110763549805f);
  __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_sub_ps(_mm512_setzero_ps(), c)), c);
  __m512 x2 = _mm512_mul_ps(xc, xc);
  __m512 p = _mm512_set1_ps(-2.76076847742355e-16f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.00018790482477e-13f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-8.60467152213735e-11f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(5.12229709037114e-08f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.48572235717979e-05f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(6.37261928875436e-04f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(4.89352455891786e-03f));
  p = _mm512_mul_ps(p, xc);
  __m512 q = _mm512_set1_ps(1.19825839466702e-06f);
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(1.18534705686654e-04f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(2.26843463243900e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(4.89352518554385e-03f));
  __m512 r = _mm512_div_ps(p, q);
  __mmask16 tiny = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(0.0004f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(tiny, r, x);
}
__attribute__((always_inline)) inline __m512 vsigmoid(__m512 x) {
  const __m512 h = _mm512_set1_ps(0.5f);
  return _mm512_fmadd_ps(h, vtanh(_mm512_mul_ps(h, x)), h);
}

// One forward step: z = [x_t | h_{t-1}] @ [W; R] + b on ROWS rows x (the four gates of
// 16 units) of accumulators, then activations, c, h and the backward's factors from them.
template <int ROWS>
__attribute__((always_inline)) inline void fwd_tile(int64_t F, int64_t U, int64_t j0, const float* ar, const float* wr, const float* b, float* c,
                     float* fac, float* hnext, float* hout) {
  const int64_t K = F + U, G = 4 * U;
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 acc[ROWS][4];
  for (int r = 0; r < ROWS; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = _mm512_loadu_ps(b + q * U + j0);
  const float* w0 = wr + j0;
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = w0 + k * G;
    __m512 v0 = _mm512_loadu_ps(wk), v1 = _mm512_loadu_ps(wk + U), v2 = _mm512_loadu_ps(wk + 2 * U),
           v3 = _mm512_loadu_ps(wk + 3 * U);
    for (int r = 0; r < ROWS; ++r) {
      __m512 s = _mm512_set1_ps(ar[r * K + k]);
      acc[r][0] = _mm512_fmadd_ps(s, v0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(s, v1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(s, v2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(s, v3, acc[r][3]);
    }
  }
  for (int r = 0; r < ROWS; ++r) {
    __m512 i = vsigmoid(acc[r][0]), f = vsigmoid(acc[r][1]), g = vtanh(acc[r][2]), o = vsigmoid(acc[r][3]);
    float* cn = c + r * U + j0;
    __m512 cp = _mm512_loadu_ps(cn);
    __m512 cc = _mm512_fmadd_ps(f, cp, _mm512_mul_ps(i, g));
    __m512 tc = vtanh(cc);
    __m512 h = _mm512_mul_ps(o, tc);
    _mm512_storeu_ps(cn, cc);
    float* fn = fac + r * 6 * U + j0;
    STORE_FAC(fn, _mm512_mul_ps(g, _mm512_mul_ps(i, _mm512_sub_ps(one, i))));
    STORE_FAC(fn + U, _mm512_mul_ps(cp, _mm512_mul_ps(f, _mm512_sub_ps(one, f))));
    STORE_FAC(fn + 2 * U, _mm512_mul_ps(i, _mm512_sub_ps(one, _mm512_mul_ps(g, g))));
    STORE_FAC(fn + 3 * U, _mm512_mul_ps(tc, _mm512_mul_ps(o, _mm512_sub_ps(one, o))));
    STORE_FAC(fn + 4 * U, _mm512_mul_ps(o, _mm512_sub_ps(one, _mm512_mul_ps(tc, tc))));
    STORE_FAC(fn + 5 * U, f);
    if (hnext) _mm512_storeu_ps(hnext + r * K + j0, h);
    if (hout) _mm512_storeu_ps(hout + r * U + j0, h);
  }
}

template <int ROWS = FWD_ROWS>
void fwd_step_avx512(int64_t B, int64_t F, int64_t U, const float* a, const float* wr, const float* b, float* c,
                     float* fac, float* hnext, float* hout) {
  const int64_t K = F + U;
  for (int64_t j0 = 0; j0 < U; j0 += 16) {
    int64_t n = 0;
    auto at = [&](float* p, int64_t stride) { return p ? p + n * stride : nullptr; };
    for (; n + ROWS <= B; n += ROWS)
      fwd_tile<ROWS>(F, U, j0, a + n * K, wr, b, c + n * U, fac + n * 6 * U, at(hnext, K), at(hout, U));
    for (; n < B; n += 4)
      fwd_tile<4>(F, U, j0, a + n * K, wr, b, c + n * U, fac + n * 6 * U, at(hnext, K), at(hout, U));
  }
}

// dwr (K, G) += a^T @ dz, a = [x_t | h_{t-1}] (B, K): KR rows of dwr x 64 columns of accumulators.
template <int KR>
void dw_step_avx512(int64_t B, int64_t K, int64_t G, const float* a, const float* dz, float* dwr) {
  for (int64_t g0 = 0; g0 < G; g0 += 64) {
    for (int64_t k0 = 0; k0 < K; k0 += KR) {
      __m512 acc[KR][4];
      for (int r = 0; r < KR; ++r)
        for (int q = 0; q < 4; ++q) acc[r][q] = _mm512_loadu_ps(dwr + (k0 + r) * G + g0 + 16 * q);
      for (int64_t n = 0; n < B; ++n) {
        const float* dn = dz + n * G + g0;
        __m512 v0 = _mm512_loadu_ps(dn), v1 = _mm512_loadu_ps(dn + 16), v2 = _mm512_loadu_ps(dn + 32),
               v3 = _mm512_loadu_ps(dn + 48);
        const float* an = a + n * K + k0;
        for (int r = 0; r < KR; ++r) {
          __m512 s = _mm512_set1_ps(an[r]);
          acc[r][0] = _mm512_fmadd_ps(s, v0, acc[r][0]);
          acc[r][1] = _mm512_fmadd_ps(s, v1, acc[r][1]);
          acc[r][2] = _mm512_fmadd_ps(s, v2, acc[r][2]);
          acc[r][3] = _mm512_fmadd_ps(s, v3, acc[r][3]);
        }
      }
      for (int r = 0; r < KR; ++r)
        for (int q = 0; q < 4; ++q) _mm512_storeu_ps(dwr + (k0 + r) * G + g0 + 16 * q, acc[r][q]);
    }
  }
}

// dh (B, U, row stride ldh) = dz (B, G) @ rt (G, U): tiles of ROWS rows x 64 units of
// accumulators, G in chunks of 64 rows of rt (16 KB, stays in L1) with the partial sums
// kept in dh (U % 64 == 0 here; other U go through OpenBLAS).
template <int ROWS>
inline void dh_tile(int64_t U, int64_t G, int64_t g0, int64_t g1, const float* dz, const float* rt, float* dh,
                    int64_t ldh, int64_t u0) {
  __m512 acc[ROWS][4];
  for (int r = 0; r < ROWS; ++r)
    for (int q = 0; q < 4; ++q)
      acc[r][q] = g0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(dh + r * ldh + u0 + 16 * q);
  for (int64_t g = g0; g < g1; ++g) {
    const float* rg = rt + g * U + u0;
    __m512 v0 = _mm512_loadu_ps(rg), v1 = _mm512_loadu_ps(rg + 16), v2 = _mm512_loadu_ps(rg + 32),
           v3 = _mm512_loadu_ps(rg + 48);
    for (int r = 0; r < ROWS; ++r) {
      __m512 s = _mm512_set1_ps(dz[r * G + g]);
      acc[r][0] = _mm512_fmadd_ps(s, v0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(s, v1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(s, v2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(s, v3, acc[r][3]);
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int q = 0; q < 4; ++q) _mm512_storeu_ps(dh + r * ldh + u0 + 16 * q, acc[r][q]);
}

void dh_step_avx512(int64_t B, int64_t U, const float* dz, const float* rt, float* dh, int64_t ldh) {
  const int64_t G = 4 * U;
  for (int64_t g0 = 0; g0 < G; g0 += 64) {
    const int64_t g1 = std::min(G, g0 + 64);
    for (int64_t u0 = 0; u0 < U; u0 += 64) {
      int64_t n0 = 0;
      for (; n0 + 6 <= B; n0 += 6) dh_tile<6>(U, G, g0, g1, dz + n0 * G, rt, dh + n0 * ldh, ldh, u0);
      for (; n0 < B; n0 += 4) dh_tile<4>(U, G, g0, g1, dz + n0 * G, rt, dh + n0 * ldh, ldh, u0);
    }
  }
}

// The backward step t's dh_{t-1} = dz_t @ R^T on ROWS rows x 64 units, and in the last
// chunk of G the elementwise step of t-1 on the accumulators: dh (+ dout_{t-1}), dc,
// dz_{t-1} (written to dzp), dc *= f, the bias gradient. dz_t rows n depend on dh rows n
// only, so a tile needs no other tile's results.
template <int ROWS>
__attribute__((always_inline)) inline void dh_ew_tile(int64_t U, int64_t g0, int64_t g1, int64_t u0, const float* dz,
                                                      const float* rt, float* dhs, const float* dout, const float* fac,
                                                      float* dc, float* dzp, float* db) {
  const int64_t G = 4 * U;
  __m512 acc[ROWS][4];
  for (int r = 0; r < ROWS; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = g0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(dhs + r * U + u0 + 16 * q);
  for (int64_t g = g0; g < g1; ++g) {
    const float* rg = rt + g * U + u0;
    __m512 v0 = _mm512_loadu_ps(rg), v1 = _mm512_loadu_ps(rg + 16), v2 = _mm512_loadu_ps(rg + 32),
           v3 = _mm512_loadu_ps(rg + 48);
    for (int r = 0; r < ROWS; ++r) {
      __m512 s = _mm512_set1_ps(dz[r * G + g]);
      acc[r][0] = _mm512_fmadd_ps(s, v0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(s, v1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(s, v2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(s, v3, acc[r][3]);
    }
  }
  if (g1 < G) {  // partial sums
    for (int r = 0; r < ROWS; ++r)
      for (int q = 0; q < 4; ++q) _mm512_storeu_ps(dhs + r * U + u0 + 16 * q, acc[r][q]);
    return;
  }
  for (int q = 0; q < 4; ++q) {
    const int64_t u = u0 + 16 * q;
    __m512 si = _mm512_setzero_ps(), sf = si, sg = si, so = si;
    for (int r = 0; r < ROWS; ++r) {
      __m512 dh = acc[r][q];
      if (dout) dh = _mm512_add_ps(dh, _mm512_loadu_ps(dout + r * U + u));
      const float* fn = fac + r * 6 * U + u;
      float* dcn = dc + r * U + u;
      __m512 dcc = _mm512_fmadd_ps(dh, _mm512_loadu_ps(fn + 4 * U), _mm512_loadu_ps(dcn));
      __m512 zi = _mm512_mul_ps(dcc, _mm512_loadu_ps(fn)), zf = _mm512_mul_ps(dcc, _mm512_loadu_ps(fn + U)),
             zg = _mm512_mul_ps(dcc, _mm512_loadu_ps(fn + 2 * U)), zo = _mm512_mul_ps(dh, _mm512_loadu_ps(fn + 3 * U));
      float* zn = dzp + r * G + u;
      _mm512_storeu_ps(zn, zi);
      _mm512_storeu_ps(zn + U, zf);
      _mm512_storeu_ps(zn + 2 * U, zg);
      _mm512_storeu_ps(zn + 3 * U, zo);
      _mm512_storeu_ps(dcn, _mm512_mul_ps(dcc, _mm512_loadu_ps(fn + 5 * U)));
      si = _mm512_add_ps(si, zi), sf = _mm512_add_ps(sf, zf), sg = _mm512_add_ps(sg, zg), so = _mm512_add_ps(so, zo);
    }
    _mm512_storeu_ps(db + u, _mm512_add_ps(_mm512_loadu_ps(db + u), si));
    _mm512_storeu_ps(db + U + u, _mm512_add_ps(_mm512_loadu_ps(db + U + u), sf));
    _mm512_storeu_ps(db + 2 * U + u, _mm512_add_ps(_mm512_loadu_ps(db + 2 * U + u), sg));
    _mm512_storeu_ps(db + 3 * U + u, _mm512_add_ps(_mm512_loadu_ps(db + 3 * U + u), so));
  }
}

// Backward of one member with the elementwise step fused into the dh kernel (g_impl 2;
// U % 64 == 0, B % 4 == 0, K % 4 == 0). The first step's (t = T-1) elementwise pass is
// done alone; the input gradient, when asked for, is one more sgemm per step.
void backward_member_fused(const Dims& d, const float* w, const float* r, const float* xh, const float* fac,
                           const float* dout, bool sequences, bool input_grad, float* dx, float* dw, float* dr,
                           float* db) {
  const int64_t T = d.T, B = d.B, F = d.F, U = d.U, K = F + U, G = 4 * U;
  std::vector<float> dz(B * G), dzp(B * G), dhs(B * U), dc(B * U, 0.0f), dwr(K * G, 0.0f), dbs(G, 0.0f), rt(G * U);
  for (int64_t u = 0; u < U; ++u)
    for (int64_t g = 0; g < G; ++g) rt[g * U + u] = r[u * G + g];
  {  // t = T-1: dh = dout's last step, dc = 0
    const float* ft = fac + (T - 1) * B * 6 * U;
    const float* dht = sequences ? dout + (T - 1) * B * U : dout;
    for (int64_t n = 0; n < B; ++n) {
      const float* fn = ft + n * 6 * U;
      const float* dhn = dht + n * U;
      for (int64_t j = 0; j < U; ++j) {
        float dh = dhn[j], dcc = dh * fn[4 * U + j];
        float* zn = dz.data() + n * G;
        zn[j] = dcc * fn[j], zn[U + j] = dcc * fn[U + j], zn[2 * U + j] = dcc * fn[2 * U + j];
        zn[3 * U + j] = dh * fn[3 * U + j];
        dc[n * U + j] = dcc * fn[5 * U + j];
      }
    }
    for (int64_t n = 0; n < B; ++n)
      for (int64_t j = 0; j < G; ++j) dbs[j] += dz[n * G + j];
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    if (t > 0 && g_prefetch) {
      const char* p = reinterpret_cast<const char*>(fac + (t - 1) * B * 6 * U);
      for (int64_t o = 0; o < int64_t(sizeof(float)) * B * 6 * U; o += 64) __builtin_prefetch(p + o, 0, 2);
      const char* q = reinterpret_cast<const char*>(xh + (t - 1) * B * K);
      for (int64_t o = 0; o < int64_t(sizeof(float)) * B * K; o += 64) __builtin_prefetch(q + o, 0, 2);
    }
    int64_t t1 = g_profile ? now_ns() : 0;
    if (K % 6 == 0)
      dw_step_avx512<6>(B, K, G, xh + t * B * K, dz.data(), dwr.data());
    else
      dw_step_avx512<4>(B, K, G, xh + t * B * K, dz.data(), dwr.data());
    if (input_grad) gemm(false, true, B, F, G, dz.data(), G, w, G, 0.0f, dx + t * B * F, F);
    if (t > 0) {
      const float* ft = fac + (t - 1) * B * 6 * U;
      const float* dht = sequences ? dout + (t - 1) * B * U : nullptr;
      for (int64_t g0 = 0; g0 < G; g0 += 64) {
        const int64_t g1 = std::min(G, g0 + 64);
        for (int64_t u0 = 0; u0 < U; u0 += 64) {
          int64_t n = 0;
          auto tile = [&](auto rows) {
            constexpr int R = decltype(rows)::value;
            dh_ew_tile<R>(U, g0, g1, u0, dz.data() + n * G, rt.data(), dhs.data() + n * U,
                          dht ? dht + n * U : nullptr, ft + n * 6 * U, dc.data() + n * U, dzp.data() + n * G,
                          dbs.data());
          };
          for (; n + 6 <= B; n += 6) tile(std::integral_constant<int, 6>());
          for (; n + 4 <= B; n += 4) tile(std::integral_constant<int, 4>());
        }
      }
      std::swap(dz, dzp);
    }
    if (g_profile) g_ns_gemm += now_ns() - t1;
  }
  std::memcpy(dw, dwr.data(), sizeof(float) * F * G);
  std::memcpy(dr, dwr.data() + F * G, sizeof(float) * U * G);
  std::memcpy(db, dbs.data(), sizeof(float) * G);
  if (!input_grad) std::memset(dx, 0, sizeof(float) * T * B * F);
}
#else
int g_impl = 0;
#endif


// Split members over `threads` workers (1: inline).
template <class Fn>
void for_members(int64_t members, int64_t threads, Fn fn) {
  threads = std::max<int64_t>(1, std::min(threads, members));
  if (threads == 1) {
    for (int64_t m = 0; m < members; ++m) fn(m);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < threads; ++w)
    pool.emplace_back([=] {
      for (int64_t m = w; m < members; m += threads) fn(m);
    });
  for (auto& t : pool) t.join();
}

void forward_member(const Dims& d, const float* x, const float* w, const float* r, const float* b, float* hs,
                    bool sequences, float* xh, float* fac) {
  const int64_t T = d.T, B = d.B, F = d.F, U = d.U, K = F + U, G = 4 * U;
  std::vector<float> wr(K * G), z(B * G), c(B * U, 0.0f);
  std::memcpy(wr.data(), w, sizeof(float) * F * G);
  std::memcpy(wr.data() + F * G, r, sizeof(float) * U * G);
  for (int64_t t = 0; t < T; ++t)  // x into [x_t | h_{t-1}]
    for (int64_t n = 0; n < B; ++n) std::memcpy(xh + (t * B + n) * K, x + (t * B + n) * F, sizeof(float) * F);
  for (int64_t n = 0; n < B; ++n) std::memset(xh + n * K + F, 0, sizeof(float) * U);  // h_{-1} = 0
#ifdef __AVX512F__
  const bool own = g_impl >= 1 && U % 16 == 0 && B % 4 == 0;
#else
  const bool own = false;
#endif
  for (int64_t t = 0; t < T; ++t) {
    const float* a = xh + t * B * K;
    float* ft = fac + t * B * 6 * U;
    float* hnext = t + 1 < T ? xh + (t + 1) * B * K + F : nullptr;
    float* hout = sequences ? hs + t * B * U : (t + 1 == T ? hs : nullptr);
#ifdef __AVX512F__
    if (own) {
      int64_t t0 = g_profile ? now_ns() : 0;
      fwd_step_avx512(B, F, U, a, wr.data(), b, c.data(), ft, hnext, hout);
      if (g_profile) g_ns_gemm += now_ns() - t0;  // matmul and gates together
      continue;
    }
#endif
    gemm(false, false, B, G, K, a, K, wr.data(), G, 0.0f, z.data(), G);
    int64_t t0 = g_profile ? now_ns() : 0;
    for (int64_t n = 0; n < B; ++n) {
      const float* zn = z.data() + n * G;
      float* cn = c.data() + n * U;
      float* fn = ft + n * 6 * U;
      float* hn = hnext ? hnext + n * K : nullptr;
      float* on = hout ? hout + n * U : nullptr;
#pragma GCC ivdep
      for (int64_t j = 0; j < U; ++j) {
        float i = fast_sigmoid(zn[j] + b[j]);
        float f = fast_sigmoid(zn[U + j] + b[U + j]);
        float g = fast_tanh(zn[2 * U + j] + b[2 * U + j]);
        float o = fast_sigmoid(zn[3 * U + j] + b[3 * U + j]);
        float cp = cn[j];
        float cc = f * cp + i * g;
        float tc = fast_tanh(cc);
        float h = o * tc;
        cn[j] = cc;
        fn[j] = g * (i * (1.0f - i));
        fn[U + j] = cp * (f * (1.0f - f));
        fn[2 * U + j] = i * (1.0f - g * g);
        fn[3 * U + j] = tc * (o * (1.0f - o));
        fn[4 * U + j] = o * (1.0f - tc * tc);
        fn[5 * U + j] = f;
        if (hn) hn[j] = h;
        if (on) on[j] = h;
      }
    }
    if (g_profile) g_ns_gate += now_ns() - t0;
  }
}

void backward_member(const Dims& d, const float* w, const float* r, const float* xh, const float* fac,
                     const float* dout, bool sequences, bool input_grad, float* dx, float* dw, float* dr, float* db) {
  const int64_t T = d.T, B = d.B, F = d.F, U = d.U, K = F + U, G = 4 * U;
  std::vector<float> wr(K * G), dz(B * G), dxh(B * K, 0.0f), dc(B * U, 0.0f), dwr(K * G, 0.0f), dbs(G, 0.0f);
  std::memcpy(wr.data(), w, sizeof(float) * F * G);
  std::memcpy(wr.data() + F * G, r, sizeof(float) * U * G);
#ifdef __AVX512F__
  const bool own = g_impl >= 1 && U % 64 == 0 && B % 4 == 0 && K % 4 == 0 && G % 64 == 0;
  std::vector<float> rt(own ? G * U : 0);  // R^T (4U, U) for dz @ R^T
  if (own)
    for (int64_t u = 0; u < U; ++u)
      for (int64_t g = 0; g < G; ++g) rt[g * U + u] = r[u * G + g];
#endif
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* ft = fac + t * B * 6 * U;
    const float* dht = sequences ? dout + t * B * U : (t + 1 == T ? dout : nullptr);
    const bool first = t + 1 == T;  // dh_next = 0
    if (t > 0 && g_prefetch) {  // the next step's factors and [x | h] into L2 while this step computes
      const char* p = reinterpret_cast<const char*>(fac + (t - 1) * B * 6 * U);
      for (int64_t o = 0; o < int64_t(sizeof(float)) * B * 6 * U; o += 64) __builtin_prefetch(p + o, 0, 2);
      const char* q = reinterpret_cast<const char*>(xh + (t - 1) * B * K);
      for (int64_t o = 0; o < int64_t(sizeof(float)) * B * K; o += 64) __builtin_prefetch(q + o, 0, 2);
    }
    int64_t t0 = g_profile ? now_ns() : 0;
#ifdef __AVX512F__
    if (own) {  // the same pass hand-vectorized: units outer, rows inner, db summed in registers
      for (int64_t j0 = 0; j0 < U; j0 += 16) {
        __m512 si = _mm512_setzero_ps(), sf = si, sg = si, so = si;
        for (int64_t n = 0; n < B; ++n) {
          const float* fn = ft + n * 6 * U + j0;
          __m512 dh = first ? _mm512_setzero_ps() : _mm512_loadu_ps(dxh.data() + n * K + F + j0);
          if (dht) dh = _mm512_add_ps(dh, _mm512_loadu_ps(dht + n * U + j0));
          float* dcn = dc.data() + n * U + j0;
          __m512 dcc = _mm512_fmadd_ps(dh, _mm512_loadu_ps(fn + 4 * U), _mm512_loadu_ps(dcn));
          __m512 zi = _mm512_mul_ps(dcc, _mm512_loadu_ps(fn)), zf = _mm512_mul_ps(dcc, _mm512_loadu_ps(fn + U)),
                 zg = _mm512_mul_ps(dcc, _mm512_loadu_ps(fn + 2 * U)),
                 zo = _mm512_mul_ps(dh, _mm512_loadu_ps(fn + 3 * U));
          float* zn = dz.data() + n * G + j0;
          _mm512_storeu_ps(zn, zi);
          _mm512_storeu_ps(zn + U, zf);
          _mm512_storeu_ps(zn + 2 * U, zg);
          _mm512_storeu_ps(zn + 3 * U, zo);
          _mm512_storeu_ps(dcn, _mm512_mul_ps(dcc, _mm512_loadu_ps(fn + 5 * U)));
          si = _mm512_add_ps(si, zi), sf = _mm512_add_ps(sf, zf), sg = _mm512_add_ps(sg, zg);
          so = _mm512_add_ps(so, zo);
        }
        float* dbj = dbs.data() + j0;
        _mm512_storeu_ps(dbj, _mm512_add_ps(_mm512_loadu_ps(dbj), si));
        _mm512_storeu_ps(dbj + U, _mm512_add_ps(_mm512_loadu_ps(dbj + U), sf));
        _mm512_storeu_ps(dbj + 2 * U, _mm512_add_ps(_mm512_loadu_ps(dbj + 2 * U), sg));
        _mm512_storeu_ps(dbj + 3 * U, _mm512_add_ps(_mm512_loadu_ps(dbj + 3 * U), so));
      }
    } else
#endif
    for (int64_t n = 0; n < B; ++n) {
      const float* fn = ft + n * 6 * U;
      const float* dhn = dht ? dht + n * U : nullptr;
      const float* dhr = dxh.data() + n * K + F;  // dh_{t} from the step after
      float* dcn = dc.data() + n * U;
      float* dzn = dz.data() + n * G;
#pragma GCC ivdep
      for (int64_t j = 0; j < U; ++j) {
        float dh = (first ? 0.0f : dhr[j]) + (dhn ? dhn[j] : 0.0f);
        float dcc = dcn[j] + dh * fn[4 * U + j];
        float zi = dcc * fn[j], zf = dcc * fn[U + j], zg = dcc * fn[2 * U + j], zo = dh * fn[3 * U + j];
        dzn[j] = zi;
        dzn[U + j] = zf;
        dzn[2 * U + j] = zg;
        dzn[3 * U + j] = zo;
        dcn[j] = dcc * fn[5 * U + j];
        dbs[j] += zi;  // bias gradient: column sums of dz, in the same pass
        dbs[U + j] += zf;
        dbs[2 * U + j] += zg;
        dbs[3 * U + j] += zo;
      }
    }
    if (g_profile) g_ns_gate += now_ns() - t0;
#ifdef __AVX512F__
    if (own) {
      int64_t t1 = g_profile ? now_ns() : 0;
      if (K % 6 == 0)
        dw_step_avx512<6>(B, K, G, xh + t * B * K, dz.data(), dwr.data());
      else
        dw_step_avx512<4>(B, K, G, xh + t * B * K, dz.data(), dwr.data());
      if (!input_grad && t > 0) dh_step_avx512(B, U, dz.data(), rt.data(), dxh.data() + F, K);
      if (g_profile) g_ns_gemm += now_ns() - t1;
      if (!input_grad) continue;
    } else
#endif
    // dW, dR += [x_t | h_{t-1}]^T @ dz
    gemm(true, false, K, G, B, xh + t * B * K, K, dz.data(), G, 1.0f, dwr.data(), G);
    if (input_grad) {  // [dx_t | dh_{t-1}] = dz @ [W; R]^T
      gemm(false, true, B, K, G, dz.data(), G, wr.data(), G, 0.0f, dxh.data(), K);
      for (int64_t n = 0; n < B; ++n) std::memcpy(dx + (t * B + n) * F, dxh.data() + n * K, sizeof(float) * F);
    } else if (t > 0) {  // dh_{t-1} = dz @ R^T only
      gemm(false, true, B, U, G, dz.data(), G, wr.data() + F * G, G, 0.0f, dxh.data() + F, K);
    }
  }
  std::memcpy(dw, dwr.data(), sizeof(float) * F * G);
  std::memcpy(dr, dwr.data() + F * G, sizeof(float) * U * G);
  std::memcpy(db, dbs.data(), sizeof(float) * G);
  if (!input_grad) std::memset(dx, 0, sizeof(float) * T * B * F);
}

ffi::Error FwdImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> r,
                   ffi::Buffer<ffi::F32> b, ffi::ResultBuffer<ffi::F32> hs, ffi::ResultBuffer<ffi::F32> xh,
                   ffi::ResultBuffer<ffi::F32> fac, int64_t sequences, int64_t threads) {
  if (!g_sgemm) return ffi::Error::Internal("fused_lstm: fused_lstm_init was not called");
  auto xd = x.dimensions();
  auto rd = r.dimensions();
  if (xd.size() < 3 || rd.size() < 2) return ffi::Error::InvalidArgument("fused_lstm: bad ranks");
  Dims d;
  d.T = xd[xd.size() - 3], d.B = xd[xd.size() - 2], d.F = xd[xd.size() - 1], d.U = rd[rd.size() - 2];
  d.members = x.element_count() / (d.T * d.B * d.F);
  if (int64_t(w.element_count()) != d.members * d.F * 4 * d.U ||
      int64_t(r.element_count()) != d.members * d.U * 4 * d.U || int64_t(b.element_count()) != d.members * 4 * d.U)
    return ffi::Error::InvalidArgument("fused_lstm: operand sizes do not match x's members");
  const int64_t T = d.T, B = d.B, F = d.F, U = d.U;
  const int64_t hs_size = (sequences ? T : 1) * B * U;
  for_members(d.members, threads, [&](int64_t m) {
    forward_member(d, x.typed_data() + m * T * B * F, w.typed_data() + m * F * 4 * U,
                   r.typed_data() + m * U * 4 * U, b.typed_data() + m * 4 * U, hs->typed_data() + m * hs_size,
                   sequences != 0, xh->typed_data() + m * T * B * (F + U), fac->typed_data() + m * T * B * 6 * U);
  });
  return ffi::Error::Success();
}

ffi::Error BwdImpl(ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> r, ffi::Buffer<ffi::F32> xh,
                   ffi::Buffer<ffi::F32> fac, ffi::Buffer<ffi::F32> dout, ffi::ResultBuffer<ffi::F32> dx,
                   ffi::ResultBuffer<ffi::F32> dw, ffi::ResultBuffer<ffi::F32> dr, ffi::ResultBuffer<ffi::F32> db,
                   int64_t sequences, int64_t input_grad, int64_t threads) {
  if (!g_sgemm) return ffi::Error::Internal("fused_lstm: fused_lstm_init was not called");
  auto xd = dx->dimensions();
  auto rd = r.dimensions();
  Dims d;
  d.T = xd[xd.size() - 3], d.B = xd[xd.size() - 2], d.F = xd[xd.size() - 1], d.U = rd[rd.size() - 2];
  d.members = dx->element_count() / (d.T * d.B * d.F);
  const int64_t T = d.T, B = d.B, F = d.F, U = d.U;
  const int64_t dout_size = (sequences ? T : 1) * B * U;
  if (int64_t(dout.element_count()) != d.members * dout_size ||
      int64_t(fac.element_count()) != d.members * T * B * 6 * U)
    return ffi::Error::InvalidArgument("fused_lstm: residual sizes do not match");
#ifdef __AVX512F__
  const bool fused = g_impl == 2 && U % 64 == 0 && B % 4 == 0 && (F + U) % 4 == 0;
#else
  const bool fused = false;
#endif
  for_members(d.members, threads, [&](int64_t m) {
    (fused ? backward_member_fused : backward_member)(d, w.typed_data() + m * F * 4 * U, r.typed_data() + m * U * 4 * U,
                    xh.typed_data() + m * T * B * (F + U), fac.typed_data() + m * T * B * 6 * U,
                    dout.typed_data() + m * dout_size, sequences != 0, input_grad != 0,
                    dx->typed_data() + m * T * B * F, dw->typed_data() + m * F * 4 * U,
                    dr->typed_data() + m * U * 4 * U, db->typed_data() + m * 4 * U);
  });
  return ffi::Error::Success();
}

}  // namespace

extern "C" {

// dlopen numpy's OpenBLAS (ILP64, symbols suffixed 64_) and pin it to one thread: the
// members are the parallelism. Returns 0 on success.
int fused_lstm_init(const char* blas_path) {
  void* lib = dlopen(blas_path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 1;
  g_sgemm = reinterpret_cast<sgemm_fn>(dlsym(lib, "scipy_cblas_sgemm64_"));
  if (!g_sgemm) return 2;
  auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "scipy_openblas_set_num_threads64_"));
  if (set_threads) set_threads(1);
  return 0;
}

// Profile: set_profile(1) zeroes and starts the counters; profile(out) reads
// {ns in sgemm, ns in the gate passes}.
void fused_lstm_set_profile(int on) {
  g_profile = on != 0;
  g_ns_gemm = 0;
  g_ns_gate = 0;
}
void fused_lstm_set_impl(int impl) { g_impl = impl; }
void fused_lstm_set_prefetch(int on) { g_prefetch = on != 0; }
void fused_lstm_profile(int64_t* out) {
  out[0] = g_ns_gemm;
  out[1] = g_ns_gate;
}

}  // extern "C"

XLA_FFI_DEFINE_HANDLER_SYMBOL(FusedLstmFwd, FwdImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // x (..., T, B, F)
                                  .Arg<ffi::Buffer<ffi::F32>>()  // W (..., F, 4U)
                                  .Arg<ffi::Buffer<ffi::F32>>()  // R (..., U, 4U)
                                  .Arg<ffi::Buffer<ffi::F32>>()  // b (..., 4U)
                                  .Ret<ffi::Buffer<ffi::F32>>()  // hs (..., T, B, U) or (..., B, U)
                                  .Ret<ffi::Buffer<ffi::F32>>()  // xh (..., T, B, F+U)
                                  .Ret<ffi::Buffer<ffi::F32>>()  // fac (..., T, B, 6U)
                                  .Attr<int64_t>("sequences")
                                  .Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(FusedLstmBwd, BwdImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // W
                                  .Arg<ffi::Buffer<ffi::F32>>()  // R
                                  .Arg<ffi::Buffer<ffi::F32>>()  // xh
                                  .Arg<ffi::Buffer<ffi::F32>>()  // fac
                                  .Arg<ffi::Buffer<ffi::F32>>()  // d hs
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dx (..., T, B, F)
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dW
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dR
                                  .Ret<ffi::Buffer<ffi::F32>>()  // db
                                  .Attr<int64_t>("sequences")
                                  .Attr<int64_t>("input_grad")
                                  .Attr<int64_t>("threads"));
