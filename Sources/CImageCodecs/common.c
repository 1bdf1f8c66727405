// Helpers shared by the codec shims.
#include "codecs.h"
#include "shim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cic_free(void *pointer) { free(pointer); }

void cic_set_message(char *message, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(message, CIC_MESSAGE_SIZE, format, args);
    va_end(args);
}

int cic_too_large(int64_t width, int64_t height, int64_t max_pixels) {
    if (width < 0 || height < 0) return 1;
    if (width != 0 && height > INT64_MAX / width) return 1;
    return width * height > max_pixels;
}

void *cic_alloc(int64_t count, int64_t size) {
    if (count < 0 || size < 0) return NULL;
    if (size != 0 && count > INT64_MAX / size) return NULL;
    int64_t total = count * size;
    if ((uint64_t)total > SIZE_MAX) return NULL;
    return malloc(total > 0 ? (size_t)total : 1);
}
