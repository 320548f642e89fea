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

/// Renames `from` to `to` only if `to` does not exist (renameat2 with
/// RENAME_NOREPLACE). Returns -1 with errno EEXIST when it does; ENOSYS or
/// EINVAL when the system or file system cannot do it.
int ckpt_rename_noreplace(const char *from, const char *to);

/// Atomically swaps two existing paths (renameat2 with RENAME_EXCHANGE).
int ckpt_rename_exchange(const char *a, const char *b);

/// XXH64 (the xxHash 64-bit algorithm), streaming: a fast non-cryptographic
/// checksum for corpus digests and token-cache integrity.
typedef struct {
    uint64_t total;
    uint64_t v[4];
    uint8_t buffer[32];
    uint32_t buffered;
} ckpt_xxh64_state;

void ckpt_xxh64_reset(ckpt_xxh64_state *s, uint64_t seed);
void ckpt_xxh64_update(ckpt_xxh64_state *s, const void *data, size_t count);
uint64_t ckpt_xxh64_digest(const ckpt_xxh64_state *s);

/// Scans `count` little-endian unsigned ids of `width` bytes (2 or 4) and
/// returns the largest (0 when empty).
uint32_t ckpt_max_id(const void *ids, size_t count, int width);
