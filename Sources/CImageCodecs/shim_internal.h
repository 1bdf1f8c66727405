// Internal helpers of the codec shims (not exported to Swift).
#pragma once
#include <stdint.h>

void cic_set_message(char *message, const char *format, ...) __attribute__((format(printf, 2, 3)));
int cic_too_large(int64_t width, int64_t height, int64_t max_pixels);
/// malloc(count * size) with overflow checks; NULL on overflow or failure.
void *cic_alloc(int64_t count, int64_t size);
