// Small C helpers for what Swift's Glibc module does not expose.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// copy_file_range(2) (a _GNU_SOURCE function); returns -1 with errno ENOSYS
/// where the system lacks it.
ssize_t ckpt_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len);

/// Starts writeback of a file range without waiting (sync_file_range with
/// SYNC_FILE_RANGE_WRITE); a no-op returning 0 where the system lacks it.
int ckpt_start_writeback(int fd, int64_t offset, int64_t count);
