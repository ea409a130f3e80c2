#ifndef FLOWSTORE_SYS_H
#define FLOWSTORE_SYS_H
// The little FlowStore needs from C: a system call Swift's Glibc module does not declare, and a
// vector loop Swift's SIMD types do not compile to vector instructions (SSE2 on x86-64;
// bytewise elsewhere).
#include <stddef.h>
#include <stdint.h>

/// Flushes every dirty page and inode of the file system holding `fd` and waits for it (Linux
/// `syncfs`, which since 5.8 also reports write-back errors). Returns -1 with errno ENOSYS where
/// the platform has no such call; callers then fsync each file instead.
int flowstore_syncfs(int fd);

/// Whether `flowstore_syncfs` is a real file-system barrier on this platform.
int flowstore_has_syncfs(void);

/// Flags of `flowstore_rename2` (Linux `renameat2`'s values).
enum {
    /// Fail with EEXIST when `to` exists, rather than replace it.
    FLOWSTORE_RENAME_NOREPLACE = 1,
    /// Swap the two names atomically: both files stay, each under the other's name.
    FLOWSTORE_RENAME_EXCHANGE = 2,
};

/// `rename` with one of the flags above (Linux `renameat2`). Returns -1 with errno EINVAL or
/// ENOSYS where the platform or file system cannot; callers then fall back to `rename`.
int flowstore_rename2(const char *from, const char *to, unsigned int flags);

/// Flags set by `flowstore_json_string_prefix`.
enum {
    /// It stopped at the start of an ill-formed or truncated UTF-8 sequence.
    FLOWSTORE_STRING_INVALID_UTF8 = 1,
    /// The prefix contains escapes (all of them already canonical: \" \\ \b \f \n \r \t).
    FLOWSTORE_STRING_ESCAPED = 2,
};

/// Scans the inside of a JSON string: the length of the longest prefix of `bytes[0..<count]`
/// that is well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates, nothing above
/// U+10FFFF) with no `"`, no byte below 0x20 and no escape other than the seven that RFC 8785
/// writes as they are (\" \\ \b \f \n \r \t): so it stops at the closing quote, at `\u` or
/// `\/` (which canonical form rewrites) or an invalid escape, at a control byte, at invalid
/// UTF-8 (setting FLOWSTORE_STRING_INVALID_UTF8 in `*flags`) or at the end. ASCII runs go 16
/// bytes per step with SSE2 where available.
size_t flowstore_json_string_prefix(const uint8_t *bytes, size_t count, int *flags);

/// Like `flowstore_json_string_prefix` but stops at every backslash: the parser decodes escapes.
size_t flowstore_json_raw_prefix(const uint8_t *bytes, size_t count, int *flags);

/// The length of the longest prefix of `bytes[0..<count]` (known-valid UTF-8) with no `"`, no
/// `\` and no byte below 0x20: what RFC 8785 copies into a string as it is. 16 bytes per step
/// with SSE2 where available.
size_t flowstore_json_unescaped_prefix(const uint8_t *bytes, size_t count);

/// A buffer of at least `size` bytes that belongs to the calling thread and is handed out
/// again by its next call (contents not kept), or NULL when `size` is over 8 MB (not cached) or
/// memory is short. For working buffers of large documents: allocating and freeing one per
/// document costs fresh zeroed pages from the kernel each time. Freed when the thread exits.
uint8_t *flowstore_thread_scratch(size_t size);

/// `flowstore_json_string_prefix`, copying the prefix to `out` as well (the bytes are the same:
/// the escapes it steps over are already canonical). `out` must have room for `count` bytes,
/// which may all be written. Returns the prefix's length. With AVX2 (checked at run time) it
/// scans and copies 32 bytes per step and checks UTF-8 with vector compares; otherwise it is the
/// SSE2 scan and a `memcpy`.
size_t flowstore_json_string_copy(const uint8_t *bytes, size_t count, uint8_t *out, int *flags);

/// The two implementations behind `flowstore_json_string_copy`, for tests that compare them.
/// The AVX2 one must only be called when `flowstore_has_avx2()`.
size_t flowstore_json_string_copy_avx2(const uint8_t *bytes, size_t count, uint8_t *out, int *flags);
size_t flowstore_json_string_copy_portable(const uint8_t *bytes, size_t count, uint8_t *out, int *flags);

/// Whether the CPU and OS support AVX2 (and FLOWSTORE_DISABLE_AVX2 is not set), asked once.
int flowstore_has_avx2(void);

#endif
