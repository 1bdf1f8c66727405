// Swapping two paths in one step, for DeepfakeCore's folder replacement: Linux's renameat2(RENAME_EXCHANGE)
// (called through syscall(2): glibc declares renameat2 only under _GNU_SOURCE) and macOS's renamex_np(RENAME_SWAP).
// Returns 0, or -1 with errno set (EINVAL or ENOSYS where the file system or kernel cannot exchange).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

static inline int deepfake_exchange_paths(const char *a, const char *b) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
#elif defined(__APPLE__)
    return renamex_np(a, b, RENAME_SWAP);
#else
    errno = ENOSYS;
    return -1;
#endif
}
