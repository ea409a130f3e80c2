#define _GNU_SOURCE
#include "CFlowStoreSys.h"
#include <errno.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
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

/// The length of the well-formed UTF-8 sequence with a lead byte >= 0x80 at `p[i]`, or 0.
static inline size_t utf8_sequence(const uint8_t *p, size_t i, size_t n) {
    uint8_t c = p[i];
    if (c >= 0xC2 && c <= 0xDF) {
        if (i + 1 < n && (p[i + 1] & 0xC0) == 0x80) return 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (i + 2 < n && p[i + 1] >= lo && p[i + 1] <= hi && (p[i + 2] & 0xC0) == 0x80) return 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (i + 3 < n && p[i + 1] >= lo && p[i + 1] <= hi && (p[i + 2] & 0xC0) == 0x80 && (p[i + 3] & 0xC0) == 0x80) {
            return 4;
        }
    }
    return 0;
}

static inline size_t string_prefix(const uint8_t *p, size_t n, int *flags, int skip_escapes) {
    size_t i = 0;
    *flags = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
#endif
    while (i < n) {
#if defined(__SSE2__)
        // Sixteen bytes at a time, to the first byte that is '"', '\\', a control or non-ASCII
        // (as signed bytes, the last two are one compare: below 0x20). Measured: returning here
        // after every non-ASCII character beats staying bytewise through runs of them, because
        // the ASCII gaps between words of prose are then skipped in one step.
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(hit);
            if (mask != 0) {
                i += (size_t)__builtin_ctz((unsigned)mask);
                break;
            }
            i += 16;
        }
        if (i >= n) break;
#endif
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c == '\\') {
                if (!skip_escapes || i + 1 >= n) return i;
                switch (p[i + 1]) {
                case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
                    *flags |= FLOWSTORE_STRING_ESCAPED;
                    i += 2;
                    continue;
                default:
                    return i;
                }
            }
            if (c == '"' || c < 0x20) return i;
            i++;
            continue;
        }
        size_t length = utf8_sequence(p, i, n);
        if (length == 0) {
            *flags |= FLOWSTORE_STRING_INVALID_UTF8;
            return i;
        }
        i += length;
    }
    return n;
}

size_t flowstore_json_string_prefix(const uint8_t *p, size_t n, int *flags) { return string_prefix(p, n, flags, 1); }

size_t flowstore_json_raw_prefix(const uint8_t *p, size_t n, int *flags) { return string_prefix(p, n, flags, 0); }

size_t flowstore_json_unescaped_prefix(const uint8_t *p, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        // Controls are 0x00-0x1F: below 0x20 as signed bytes, but not negative (non-ASCII).
        __m128i control = _mm_andnot_si128(_mm_cmplt_epi8(v, zero), _mm_cmplt_epi8(v, space));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
        int mask = _mm_movemask_epi8(hit);
        if (mask != 0) return i + (size_t)__builtin_ctz((unsigned)mask);
    }
#endif
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\' || c < 0x20) return i;
    }
    return n;
}
