// XXH64, written from the algorithm's description (xxHash, Yann Collet):
// four 64-bit lanes over 32-byte stripes, then the tail and an avalanche.

#include "cshims.h"
#include <string.h>

static const uint64_t P1 = 0x9E3779B185EBCA87ULL;
static const uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t P3 = 0x165667B19E3779F9ULL;
static const uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
static const uint64_t P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t read64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }  // little-endian hosts
static inline uint32_t read32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t lane(uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; }
static inline uint64_t merge(uint64_t h, uint64_t v) { return (h ^ lane(0, v)) * P1 + P4; }

void ckpt_xxh64_reset(ckpt_xxh64_state *s, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->v[0] = seed + P1 + P2;
    s->v[1] = seed + P2;
    s->v[2] = seed;
    s->v[3] = seed - P1;
}

static inline void stripe(uint64_t v[4], const uint8_t *p) {
    v[0] = lane(v[0], read64(p));
    v[1] = lane(v[1], read64(p + 8));
    v[2] = lane(v[2], read64(p + 16));
    v[3] = lane(v[3], read64(p + 24));
}

void ckpt_xxh64_update(ckpt_xxh64_state *s, const void *data, size_t count) {
    const uint8_t *p = data, *end = p + count;
    s->total += count;
    if (s->buffered + count < 32) {
        if (count) memcpy(s->buffer + s->buffered, p, count);
        s->buffered += (uint32_t)count;
        return;
    }
    if (s->buffered) {
        size_t take = 32 - s->buffered;
        memcpy(s->buffer + s->buffered, p, take);
        stripe(s->v, s->buffer);
        p += take;
        s->buffered = 0;
    }
    uint64_t v[4] = {s->v[0], s->v[1], s->v[2], s->v[3]};
    while (end - p >= 32) { stripe(v, p); p += 32; }
    memcpy(s->v, v, sizeof v);
    if (p < end) { memcpy(s->buffer, p, (size_t)(end - p)); s->buffered = (uint32_t)(end - p); }
}

uint64_t ckpt_xxh64_digest(const ckpt_xxh64_state *s) {
    uint64_t h;
    if (s->total >= 32) {
        h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
        for (int i = 0; i < 4; i++) h = merge(h, s->v[i]);
    } else {
        h = s->v[2] + P5;  // v[2] holds the seed until a stripe is consumed
    }
    h += s->total;
    const uint8_t *p = s->buffer, *end = p + s->buffered;
    while (end - p >= 8) { h = rotl(h ^ lane(0, read64(p)), 27) * P1 + P4; p += 8; }
    if (end - p >= 4) { h = rotl(h ^ ((uint64_t)read32(p) * P1), 23) * P2 + P3; p += 4; }
    while (p < end) { h = rotl(h ^ (*p * P5), 11) * P1; p++; }
    h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
    return h;
}

uint32_t ckpt_max_id(const void *ids, size_t count, int width) {
    uint32_t m = 0;
    if (width == 2) {
        const uint16_t *a = ids;
        for (size_t i = 0; i < count; i++) m = a[i] > m ? a[i] : m;
    } else {
        const uint32_t *a = ids;
        for (size_t i = 0; i < count; i++) m = a[i] > m ? a[i] : m;
    }
    return m;
}
