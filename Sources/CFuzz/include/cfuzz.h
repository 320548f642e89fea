// libFuzzer's driver, for ckpt-fuzz built with -sanitize=fuzzer (make fuzz).
// Only declared: a normal build never calls it and never links libFuzzer.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with `argc`/`argv` (its flags, corpus directories) on
/// `callback`; returns its exit status.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
