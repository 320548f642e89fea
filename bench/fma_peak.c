// The CPU's measured multiply-add peak: independent 256-bit and 512-bit FMAs
// (12 ymm or 24 zmm accumulators per thread: as many as the registers hold, and
// more than latency × units) with no memory traffic, on 1 and N threads, in
// GFLOP/s. The ceiling the kernels' fractions of peak are taken against.
// Usage: clang -O2 -pthread bench/fma_peak.c -o fma_peak && ./fma_peak [threads]
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ACC256 = 12, ACC512 = 24 };
static const long ROUNDS = 100000000;
static int width;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

__attribute__((target("avx2,fma"))) static float run256(long n) {
    __m256 a[ACC256], x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-6f);
    for (int i = 0; i < ACC256; i++) a[i] = _mm256_set1_ps((float)i);
    for (long r = 0; r < n; r++)
        for (int i = 0; i < ACC256; i++) a[i] = _mm256_fmadd_ps(a[i], x, y);
    __m256 s = a[0];
    for (int i = 1; i < ACC256; i++) s = _mm256_add_ps(s, a[i]);
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0];
}

__attribute__((target("avx512f"))) static float run512(long n) {
    __m512 a[ACC512], x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-6f);
    for (int i = 0; i < ACC512; i++) a[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < n; r++)
        for (int i = 0; i < ACC512; i++) a[i] = _mm512_fmadd_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < ACC512; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

static void *worker(void *unused) {
    (void)unused;
    volatile float f = width == 512 ? run512(ROUNDS) : run256(ROUNDS);
    (void)f;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 256) return 2;
    __builtin_cpu_init();
    for (width = 256; width <= 512; width += 256) {
        if (width == 512 && !__builtin_cpu_supports("avx512f")) break;
        if (width == 256 && !__builtin_cpu_supports("fma")) continue;
        for (int t = 1; t <= threads; t = t == threads ? threads + 1 : threads) {
            pthread_t ids[256];
            double start = now();
            for (int i = 0; i < t; i++) pthread_create(&ids[i], NULL, worker, NULL);
            for (int i = 0; i < t; i++) pthread_join(ids[i], NULL);
            double s = now() - start;
            printf("%d-bit FMA, %d thread%s: %.0f GFLOP/s\n", width, t, t > 1 ? "s" : "",
                   t * (double)ROUNDS * (width == 512 ? ACC512 : ACC256) * (width / 32) * 2 / s / 1e9);
        }
    }
    return 0;
}
