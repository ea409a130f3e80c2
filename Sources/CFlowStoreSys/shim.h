#ifndef FLOWSTORE_SYS_SHIM_H
#define FLOWSTORE_SYS_SHIM_H
// System calls Swift's Glibc module does not declare. Header only: nothing to link.
#include <unistd.h>

#if defined(__linux__)
// Linux >= 2.6.39, glibc >= 2.14 (declared by <unistd.h> only under _GNU_SOURCE).
int syncfs(int fd);
#endif

/// Flushes every dirty page and inode of the file system holding `fd` and waits for it
/// (Linux `syncfs`, which since 5.8 also reports write-back errors). Returns -1 where the
/// platform has no such call, so callers fall back to fsync of each file.
static inline int flowstore_syncfs(int fd) {
#if defined(__linux__)
    return syncfs(fd);
#else
    (void)fd;
    return -1;
#endif
}

/// Whether `flowstore_syncfs` is a real file-system barrier here.
static inline int flowstore_has_syncfs(void) {
#if defined(__linux__)
    return 1;
#else
    return 0;
#endif
}
#endif
