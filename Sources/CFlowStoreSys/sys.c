#define _GNU_SOURCE
#include "CFlowStoreSys.h"
#include <errno.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

int flowstore_syncfs(int fd) {
#if defined(__linux__)
    return syncfs(fd);
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
#endif
}

int flowstore_has_syncfs(void) {
#if defined(__linux__)
    return 1;
#else
    return 0;
#endif
}

static inline int needs_attention(uint8_t c) { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80; }

size_t flowstore_plain_ascii_prefix(const uint8_t *bytes, size_t count) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    for (; i + 16 <= count; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(bytes + i));
        // Signed compare: bytes >= 0x80 are negative, so "below 0x20" also catches non-ASCII.
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                   _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(hit);
        if (mask != 0) return i + (size_t)__builtin_ctz((unsigned)mask);
    }
#elif defined(__aarch64__)
    const uint8x16_t quote = vdupq_n_u8('"');
    const uint8x16_t backslash = vdupq_n_u8('\\');
    const uint8x16_t space = vdupq_n_u8(0x20);
    const uint8x16_t high = vdupq_n_u8(0x80);
    for (; i + 16 <= count; i += 16) {
        uint8x16_t v = vld1q_u8(bytes + i);
        uint8x16_t hit = vorrq_u8(vorrq_u8(vceqq_u8(v, quote), vceqq_u8(v, backslash)),
                                  vorrq_u8(vcltq_u8(v, space), vcgeq_u8(v, high)));
        if (vmaxvq_u8(hit) != 0) break;
    }
#endif
    for (; i < count; i++) {
        if (needs_attention(bytes[i])) return i;
    }
    return count;
}
