// Micro-benchmark of the fused LSTM kernels outside JAX (one thread, W1 shapes:
// B=64, F=8, U=64, T=64), best of many runs so that a quiet moment of the shared
// machine is what is reported.
//   build.sh builds it as build/micro; run: build/micro [path to libscipy_openblas64_*.so]
// Prints: a register-only FMA loop (this core's float32 FMA peak), one forward step
// (matmul + fused gates) and the backward's two matmul kernels against OpenBLAS sgemm of
// the same shapes, and whole-sequence forward/backward per member and timestep
// (backward impl 1: separate elementwise pass; impl 2: fused into the dh kernel).
#include "fused_lstm.cc"

#include <cstdio>
#include <cstdlib>
#include <random>

template <class Fn>
double best(Fn f, int reps) {
  double b = 1e9;
  for (int i = 0; i < reps; ++i) {
    int64_t t0 = now_ns();
    f();
    b = std::min(b, (now_ns() - t0) * 1e-9);
  }
  return b;
}

int main(int argc, char** argv) {
  const char* blas = argc > 1 ? argv[1] : std::getenv("FUSED_LSTM_BLAS");
  if (!blas || fused_lstm_init(blas) != 0) {
    std::fprintf(stderr, "usage: micro PATH/libscipy_openblas64_*.so (or FUSED_LSTM_BLAS)\n");
    return 1;
  }
  const int64_t T = 64, B = 64, F = 8, U = 64, K = F + U, G = 4 * U;
  Dims d{1, T, B, F, U};
  // register FMA peak: 12 independent chains
  double tp = best(
      [] {
        __m512 x[12];
        for (int i = 0; i < 12; ++i) x[i] = _mm512_set1_ps(float(i));
        const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(0.001f);
        for (int it = 0; it < 100000; ++it)
          for (int i = 0; i < 12; ++i) x[i] = _mm512_fmadd_ps(x[i], m, a);
        float s = 0;
        for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_ps(x[i]);
        if (s == 1234.5f) std::printf(" ");
      },
      20);
  std::printf("register FMA peak: %.0f GFLOP/s (one core)\n", 100000.0 * 12 * 32 / tp / 1e9);

  std::vector<float> a(B * K, 0.1f), wr(K * G, 0.01f), bias(G, 0.f), c(B * U, 0.f), fac1(B * 6 * U), hn(B * K),
      dz(B * G, 0.01f), dwr(K * G, 0.f), rt(G * U, 0.01f), dh(B * K), z(B * G);
  double f1 = 2.0 * B * K * G, f3 = 2.0 * B * G * U;
  double tf = 1, tfb = 1, tw = 1, twb = 1, th = 1, thb = 1;
  for (int rr = 0; rr < 10; ++rr) {
    tf = std::min(tf, best([&] { fwd_step_avx512<4>(B, F, U, a.data(), wr.data(), bias.data(), c.data(), fac1.data(), hn.data() + F, nullptr); }, 50));
    tfb = std::min(tfb, best([&] { gemm(false, false, B, G, K, a.data(), K, wr.data(), G, 0.f, z.data(), G); }, 50));
    tw = std::min(tw, best([&] { dw_step_avx512<6>(B, K, G, a.data(), dz.data(), dwr.data()); }, 50));
    twb = std::min(twb, best([&] { gemm(true, false, K, G, B, a.data(), K, dz.data(), G, 1.f, dwr.data(), G); }, 50));
    th = std::min(th, best([&] { dh_step_avx512(B, U, dz.data(), rt.data(), dh.data() + F, K); }, 50));
    thb = std::min(thb, best([&] { gemm(false, true, B, U, G, dz.data(), G, wr.data() + F * G, G, 0.f, dh.data() + F, K); }, 50));
  }
  std::printf("one step, us (matmul GFLOP/s):\n");
  std::printf("  forward  x@[W;R] + gates fused %5.1f (%3.0f)   OpenBLAS sgemm alone %5.1f (%3.0f)\n", tf * 1e6,
              f1 / tf / 1e9, tfb * 1e6, f1 / tfb / 1e9);
  std::printf("  dW += [x|h]^T dz               %5.1f (%3.0f)   OpenBLAS             %5.1f (%3.0f)\n", tw * 1e6,
              f1 / tw / 1e9, twb * 1e6, f1 / twb / 1e9);
  std::printf("  dh = dz R^T                    %5.1f (%3.0f)   OpenBLAS             %5.1f (%3.0f)\n", th * 1e6,
              f3 / th / 1e9, thb * 1e6, f3 / thb / 1e9);

  std::mt19937 rng(0);
  std::normal_distribution<float> nd(0, 1);
  float* fac = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * T * B * 6 * U));
  std::vector<float> x(T * B * F), w(F * G), r(U * G), b(G), hs(B * U), xh(T * B * K), dout(B * U), dx(T * B * F),
      dw(F * G), dr(U * G), db(G);
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = 0.3f * nd(rng);
  for (auto& v : r) v = 0.15f * nd(rng);
  for (auto& v : dout) v = nd(rng);
  double t0 = 1, t1 = 1, t2 = 1, t0b = 1;
  for (int rr = 0; rr < 10; ++rr) {
    g_impl = 1;
    t0 = std::min(t0, best([&] { forward_member(d, x.data(), w.data(), r.data(), b.data(), hs.data(), false, xh.data(), fac); }, 5));
    t1 = std::min(t1, best([&] { backward_member(d, w.data(), r.data(), xh.data(), fac, dout.data(), false, false, dx.data(), dw.data(), dr.data(), db.data()); }, 5));
    g_impl = 2;
    t2 = std::min(t2, best([&] { backward_member_fused(d, w.data(), r.data(), xh.data(), fac, dout.data(), false, false, dx.data(), dw.data(), dr.data(), db.data()); }, 5));
    g_impl = 0;
    t0b = std::min(t0b, best([&] { forward_member(d, x.data(), w.data(), r.data(), b.data(), hs.data(), false, xh.data(), fac); }, 5));
    g_impl = 1;
  }
  double flops = 3.0 * 2 * 4 * U * K * B;  // model FLOPs per member and timestep (fastlstm's count)
  double per = (t0 + t1) / T;
  std::printf("whole sequence, us per member and timestep: forward %.1f (OpenBLAS path %.1f), backward impl 1 %.1f, "
              "impl 2 %.1f; forward+backward %.1f = %.0f GFLOP/s model, %.0f %% of the register peak\n",
              t0 / T * 1e6, t0b / T * 1e6, t1 / T * 1e6, t2 / T * 1e6, per * 1e6, flops / per / 1e9,
              100 * flops / per / (100000.0 * 12 * 32 / tp));
  std::free(fac);
}
