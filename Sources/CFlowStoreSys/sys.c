#define _GNU_SOURCE
#include "CFlowStoreSys.h"
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define FLOWSTORE_HAVE_AVX2_PATH 1
#include <cpuid.h>
#include <immintrin.h>
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

int flowstore_rename2(const char *from, const char *to, unsigned int flags) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
    (void)from;
    (void)to;
    (void)flags;
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

// MARK: - Scratch memory

/// Larger requests are not cached: a thread keeps at most this much.
#define THREAD_SCRATCH_LIMIT ((size_t)8 << 20)

static _Thread_local uint8_t *thread_scratch;
static _Thread_local size_t thread_scratch_size;

/// Frees a thread's scratch buffer when the thread exits (the key's destructor).
static pthread_key_t thread_scratch_key;
static pthread_once_t thread_scratch_once = PTHREAD_ONCE_INIT;
static int thread_scratch_key_made;

static void make_thread_scratch_key(void) { thread_scratch_key_made = pthread_key_create(&thread_scratch_key, free) == 0; }

uint8_t *flowstore_thread_scratch(size_t size) {
    if (size > THREAD_SCRATCH_LIMIT) return NULL;
    if (size > thread_scratch_size) {
        pthread_once(&thread_scratch_once, make_thread_scratch_key);
        if (!thread_scratch_key_made) return NULL;  // it could not be freed at thread exit
        // Grown in 64 KB steps, to the size asked: the documents a thread sees set its size.
        size_t rounded = (size + 0xFFFF) & ~(size_t)0xFFFF;
        free(thread_scratch);
        thread_scratch = malloc(rounded);
        thread_scratch_size = thread_scratch ? rounded : 0;
        if (pthread_setspecific(thread_scratch_key, thread_scratch) != 0) {
            free(thread_scratch);
            thread_scratch = NULL;
            thread_scratch_size = 0;
        }
    }
    return thread_scratch;
}

// MARK: - Copying a string's contents (canonical JSON's fast path)

/// Without AVX2: the SSE2 scan, then one copy.
size_t flowstore_json_string_copy_portable(const uint8_t *in, size_t n, uint8_t *out, int *flags) {
    size_t length = string_prefix(in, n, flags, 1);
    memcpy(out, in, length);
    return length;
}

#if defined(FLOWSTORE_HAVE_AVX2_PATH)

/// UTF-8 validation 32 bytes at a time, by the nibble-lookup technique of Keiser and Lemire
/// ("Validating UTF-8 in less than one instruction per byte", 2021). Every error of a byte
/// depends only on the byte and the three before it:
/// - the pair (previous byte, byte) is looked up by three nibbles (previous high, previous low,
///   current high); each table gives the set of error kinds that nibble allows, and the kinds
///   all three allow are the pair's errors (below);
/// - a continuation after a continuation is right only as the third or fourth byte of a
///   sequence, i.e. when the byte two back is a 3/4-byte lead or the one three back a 4-byte
///   lead: that expectation (bit 0x80) is XORed with the pair's "two continuations" bit.
/// Error kinds, one bit each (a = previous byte, b = current byte):
enum {
    UTF8_TOO_SHORT = 0x01,   // a lead (C0..FF), b not a continuation
    UTF8_TOO_LONG = 0x02,    // a ASCII, b a continuation
    UTF8_OVERLONG_3 = 0x04,  // E0 80..9F
    UTF8_TOO_LARGE = 0x08,   // F4..FF 90..BF (above U+10FFFF)
    UTF8_SURROGATE = 0x10,   // ED A0..BF
    UTF8_OVERLONG_2 = 0x20,  // C0/C1 then a continuation
    UTF8_OVERLONG_4 = 0x40,  // F0 80..8F, and F5..FF 80..8F (above U+10FFFF)
    UTF8_TWO_CONTS = 0x80,   // a continuation, b a continuation
};

/// Per-byte error bits (nonzero where the byte at that position completes an error) of the 32
/// bytes `v`, given the 32 bytes before them (`previous`; zeros stand for ASCII).
__attribute__((target("avx2")))
static inline __m256i utf8_errors_avx2(__m256i v, __m256i previous) {
    static const uint8_t first_high_table[16] = {
        UTF8_TOO_LONG, UTF8_TOO_LONG, UTF8_TOO_LONG, UTF8_TOO_LONG,
        UTF8_TOO_LONG, UTF8_TOO_LONG, UTF8_TOO_LONG, UTF8_TOO_LONG,
        UTF8_TWO_CONTS, UTF8_TWO_CONTS, UTF8_TWO_CONTS, UTF8_TWO_CONTS,
        UTF8_TOO_SHORT | UTF8_OVERLONG_2,
        UTF8_TOO_SHORT,
        UTF8_TOO_SHORT | UTF8_OVERLONG_3 | UTF8_SURROGATE,
        UTF8_TOO_SHORT | UTF8_TOO_LARGE | UTF8_OVERLONG_4};
#define ANY_LOW (UTF8_TOO_SHORT | UTF8_TOO_LONG | UTF8_TWO_CONTS)
    static const uint8_t first_low_table[16] = {
        ANY_LOW | UTF8_OVERLONG_3 | UTF8_OVERLONG_2 | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_OVERLONG_2,
        ANY_LOW,
        ANY_LOW,
        ANY_LOW | UTF8_TOO_LARGE,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4 | UTF8_SURROGATE,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4,
        ANY_LOW | UTF8_TOO_LARGE | UTF8_OVERLONG_4};
#undef ANY_LOW
#define CONT_ANY (UTF8_TOO_LONG | UTF8_OVERLONG_2 | UTF8_TWO_CONTS)
    static const uint8_t second_high_table[16] = {
        UTF8_TOO_SHORT, UTF8_TOO_SHORT, UTF8_TOO_SHORT, UTF8_TOO_SHORT,
        UTF8_TOO_SHORT, UTF8_TOO_SHORT, UTF8_TOO_SHORT, UTF8_TOO_SHORT,
        CONT_ANY | UTF8_OVERLONG_3 | UTF8_OVERLONG_4,                 // 80..8F
        CONT_ANY | UTF8_OVERLONG_3 | UTF8_TOO_LARGE,                  // 90..9F
        CONT_ANY | UTF8_TOO_LARGE | UTF8_SURROGATE,                   // A0..AF
        CONT_ANY | UTF8_TOO_LARGE | UTF8_SURROGATE,                   // B0..BF
        UTF8_TOO_SHORT, UTF8_TOO_SHORT, UTF8_TOO_SHORT, UTF8_TOO_SHORT};
#undef CONT_ANY
    // The same sixteen entries in both 128-bit lanes, as VPSHUFB looks up within a lane.
    const __m256i first_high = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)first_high_table));
    const __m256i first_low = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)first_low_table));
    const __m256i second_high = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)second_high_table));
    const __m256i low_nibble = _mm256_set1_epi8(0x0F);
    // The bytes one, two and three positions back, across the block boundary.
    __m256i straddle = _mm256_permute2x128_si256(previous, v, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(v, straddle, 15);
    __m256i prev2 = _mm256_alignr_epi8(v, straddle, 14);
    __m256i prev3 = _mm256_alignr_epi8(v, straddle, 13);
    __m256i pair = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(first_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low_nibble)),
                         _mm256_shuffle_epi8(first_low, _mm256_and_si256(prev1, low_nibble))),
        _mm256_shuffle_epi8(second_high, _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibble)));
    // Bit 0x80 where a continuation is due: two back is >= E0, or three back is >= F0.
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    __m256i due = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(pair, due);
}

/// A mask of the bit positions 0...k (k < 32).
static inline uint32_t through(unsigned k) { return (uint32_t)((2ull << k) - 1); }

/// The positions of a 32-byte block that are escaped (follow a backslash that is not itself
/// escaped), from the block's backslash positions; `*carry` is 1 when the first position is
/// escaped by a backslash ending the block before, and is set for the next block.
///
/// In a run of backslashes every other one escapes the next byte, starting with the run's
/// first: the escaped positions are those of the other parity than the run's start, among the
/// run and the byte just after it. Adding a run's first bit to the run carries past its end,
/// so `runs ^ (runs + starts)` is each run plus the byte after it; runs starting on even and
/// on odd positions are done apart, each then masked with the other parity. 64-bit arithmetic
/// keeps the byte after a run that ends the block as the next block's carry.
static inline uint32_t escaped_positions(uint32_t backslashes, uint64_t *carry) {
    const uint64_t even = 0x5555555555555555ull, odd = ~even;
    uint64_t runs = (uint64_t)backslashes & ~*carry;  // an escaped backslash escapes nothing
    uint64_t starts = runs & ~(runs << 1);
    uint64_t even_runs = runs ^ (runs + (starts & even));
    uint64_t odd_runs = runs ^ (runs + (starts & odd));
    uint64_t escaped = (even_runs & odd) | (odd_runs & even) | *carry;
    *carry = (escaped >> 32) & 1;
    return (uint32_t)escaped;
}

/// What the AVX2 scan carries from one block to the next.
struct scan_state {
    __m256i previous;  // the block before, for UTF-8 sequences that straddle
    uint64_t carry;    // the block's first byte is escaped
    int found;         // FLOWSTORE_STRING_ESCAPED once an escape was seen
};

/// `scan_block` results besides a stop position within the block.
enum { SCAN_CONTINUE = -1, SCAN_STOP_BEFORE = -2, SCAN_INVALID = -3 };

/// One block of `flowstore_json_string_copy_avx2`. With compares and bit masks and no branch
/// per escape: the escaped positions (`escaped_positions`), which of them hold a letter RFC 8785
/// keeps (\" \\ \b \f \n \r \t), and the first position that stops the scan: a quote not
/// escaped, a control byte, or the backslash of any other escape. UTF-8 is checked by
/// `utf8_errors_avx2`, up to the stop. Returns the
/// stop's position in the block, SCAN_CONTINUE, SCAN_STOP_BEFORE (at the backslash that ended
/// the block before) or SCAN_INVALID.
__attribute__((target("avx2"), always_inline))
static inline int scan_block(__m256i v, struct scan_state *state) {
    const __m256i low_nibble = _mm256_set1_epi8(0x0F);
    const __m256i last_control = _mm256_set1_epi8(0x1F);
    // Kept escape letters " \ b f n r t, as (high nibble, low nibble): a byte is one when the
    // bit of its high nibble (2→1, 5→2, 6→4, 7→8) is in the set its low nibble allows.
    static const uint8_t letter_low_table[16] = {0, 0, 1 | 4 | 8, 0, 8, 0, 4, 0, 0, 0, 0, 0, 2, 0, 4, 0};
    static const uint8_t letter_high_table[16] = {0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t controls = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(v, last_control), last_control));
    uint32_t quotes = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')));
    uint32_t backslashes = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
    uint32_t stops = controls;
    uint32_t escaped = 0;
    if ((backslashes | (uint32_t)state->carry) != 0) {
        escaped = escaped_positions(backslashes, &state->carry);
        const __m256i letter_low = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)letter_low_table));
        const __m256i letter_high = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)letter_high_table));
        __m256i kind = _mm256_and_si256(
            _mm256_shuffle_epi8(letter_low, _mm256_and_si256(v, low_nibble)),
            _mm256_shuffle_epi8(letter_high, _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibble)));
        uint32_t kept = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(kind, _mm256_setzero_si256()));
        uint32_t other = escaped & ~kept;  // the letter of an escape canonical form rewrites
        if (other & 1) return SCAN_STOP_BEFORE;  // its backslash ended the block before
        stops |= other >> 1;
        quotes &= ~escaped;
    }
    stops |= quotes;
    // UTF-8 is checked in every block, even all-ASCII ones: prose mixes scripts word by word,
    // and a branch on "any non-ASCII here?" was mispredicted more than the check costs.
    __m256i errors = utf8_errors_avx2(v, state->previous);
    uint32_t invalid = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(errors, _mm256_setzero_si256()));
    if (stops != 0) {
        unsigned k = (unsigned)__builtin_ctz(stops);
        if (invalid & through(k)) return SCAN_INVALID;
        if (escaped & (through(k) >> 1)) state->found = FLOWSTORE_STRING_ESCAPED;  // escapes before k
        return (int)k;
    }
    if (invalid != 0) return SCAN_INVALID;
    if (escaped != 0) state->found = FLOWSTORE_STRING_ESCAPED;
    state->previous = v;
    return SCAN_CONTINUE;
}

/// The result of `flowstore_json_string_copy_avx2` for a `scan_block` result that is not
/// SCAN_CONTINUE, in the block at `i`.
static inline size_t scan_result(int result, size_t i, size_t n, const struct scan_state *state, int *flags) {
    if (result == SCAN_INVALID) {
        *flags = state->found | FLOWSTORE_STRING_INVALID_UTF8;
        return i;
    }
    *flags = state->found;
    if (result == SCAN_STOP_BEFORE) return i - 1;
    return i + (size_t)result < n ? i + (size_t)result : n;
}

/// The last, short block (fewer than 32 bytes from `i` to `n`): scanned from a copy padded
/// with zeros, which stop the scan as controls do. Out of line and given the state by value,
/// so that the main loop keeps its state in registers and needs no stack buffer.
__attribute__((target("avx2"), noinline))
static size_t scan_last_block(const uint8_t *in, size_t i, size_t n, uint8_t *out, __m256i previous, uint64_t carry,
                              int found, int *flags) {
    struct scan_state state = {previous, carry, found};
    uint8_t padded[32] = {0};
    memcpy(padded, in + i, n - i);
    memcpy(out + i, in + i, n - i);
    int result = scan_block(_mm256_loadu_si256((const __m256i *)padded), &state);
    // A zero byte stops the scan, so the padded block always has a stop.
    return scan_result(result == SCAN_CONTINUE ? (int)(n - i) : result, i, n, &state, flags);
}

/// `flowstore_json_string_copy` with AVX2: 32 bytes per step, each block stored to `out` as it
/// is loaded (so the run is read once) and scanned by `scan_block`.
__attribute__((target("avx2")))
size_t flowstore_json_string_copy_avx2(const uint8_t *in, size_t n, uint8_t *out, int *flags) {
    struct scan_state state = {_mm256_setzero_si256(), 0, 0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        // Large documents come from memory: measured, asking for the bytes 512 ahead helps
        // (a prefetch past the end of the buffer is harmless: it never faults).
        _mm_prefetch((const char *)(in + i + 512), _MM_HINT_T0);
        __m256i v = _mm256_loadu_si256((const __m256i *)(in + i));
        _mm256_storeu_si256((__m256i *)(out + i), v);
        int result = scan_block(v, &state);
        if (result != SCAN_CONTINUE) return scan_result(result, i, n, &state, flags);
    }
    return scan_last_block(in, i, n, out, state.previous, state.carry, state.found, flags);
}

/// Whether this CPU and OS run AVX2 code (CPUID leaf 7 and the OS saving YMM state), unless
/// FLOWSTORE_DISABLE_AVX2 is set in the environment (to run everything through the portable
/// scan, e.g. the test suite).
static int detect_avx2(void) {
    if (getenv("FLOWSTORE_DISABLE_AVX2") != NULL) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;  // XMM and YMM state enabled
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_AVX2) != 0;
}

int flowstore_has_avx2(void) {
    // -1: not asked yet. Racing first calls store the same answer.
    static int answer = -1;
    int known = __atomic_load_n(&answer, __ATOMIC_RELAXED);
    if (known < 0) {
        known = detect_avx2();
        __atomic_store_n(&answer, known, __ATOMIC_RELAXED);
    }
    return known;
}

size_t flowstore_json_string_copy(const uint8_t *in, size_t n, uint8_t *out, int *flags) {
    if (flowstore_has_avx2()) return flowstore_json_string_copy_avx2(in, n, out, flags);
    return flowstore_json_string_copy_portable(in, n, out, flags);
}

#else

int flowstore_has_avx2(void) { return 0; }

size_t flowstore_json_string_copy_avx2(const uint8_t *in, size_t n, uint8_t *out, int *flags) {
    return flowstore_json_string_copy_portable(in, n, out, flags);
}

size_t flowstore_json_string_copy(const uint8_t *in, size_t n, uint8_t *out, int *flags) {
    return flowstore_json_string_copy_portable(in, n, out, flags);
}

#endif
