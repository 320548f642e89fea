#define _GNU_SOURCE
#include "cshims.h"
#include <errno.h>
#include <unistd.h>

ssize_t ckpt_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len) {
#if defined(__linux__)
    loff_t in = (loff_t)*off_in, out = (loff_t)*off_out;
    ssize_t n = copy_file_range(fd_in, &in, fd_out, &out, len, 0);
    *off_in = (int64_t)in;
    *off_out = (int64_t)out;
    return n;
#else
    (void)fd_in; (void)off_in; (void)fd_out; (void)off_out; (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

#include <fcntl.h>

int ckpt_start_writeback(int fd, int64_t offset, int64_t count) {
#if defined(__linux__)
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    return 0;
#endif
}

#include <stdio.h>

int ckpt_rename_noreplace(const char *from, const char *to) {
#if defined(__linux__) && defined(RENAME_NOREPLACE)
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
#else
    (void)from; (void)to;
    errno = ENOSYS;
    return -1;
#endif
}

int ckpt_rename_exchange(const char *a, const char *b) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
#else
    (void)a; (void)b;
    errno = ENOSYS;
    return -1;
#endif
}
