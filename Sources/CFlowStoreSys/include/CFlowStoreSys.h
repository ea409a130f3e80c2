#ifndef FLOWSTORE_SYS_H
#define FLOWSTORE_SYS_H
// The little FlowStore needs from C: a system call Swift's Glibc module does not declare, and a
// vector loop Swift's SIMD types do not compile to vector instructions.
#include <stddef.h>
#include <stdint.h>

/// Flushes every dirty page and inode of the file system holding `fd` and waits for it (Linux
/// `syncfs`, which since 5.8 also reports write-back errors). Returns -1 with errno ENOSYS where
/// the platform has no such call; callers then fsync each file instead.
int flowstore_syncfs(int fd);

/// Whether `flowstore_syncfs` is a real file-system barrier on this platform.
int flowstore_has_syncfs(void);

/// The length of the longest prefix of `bytes[0..<count]` with no `"`, no `\`, no byte below
/// 0x20 and no byte of 0x80 or above: the part of a JSON string that is already canonical
/// ASCII. 16 bytes per step (SSE2 on x86-64, NEON on arm64; bytewise elsewhere).
size_t flowstore_plain_ascii_prefix(const uint8_t *bytes, size_t count);

#endif
