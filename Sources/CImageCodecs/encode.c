// JPEG and PNG encoders for 8-bit RGB images (used when shards are written with re-encoded images).
//
// Same rule as the decoders: every libjpeg/libpng error longjmps back into the function that set
// it up, is turned into a CIC_* status with a message, and never reaches Swift. The output buffer
// is malloc'd and handed to the caller (release with cic_free).
#include "codecs.h"
#include "shim_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

// ---------------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------------

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf escape;
    char *message;
} cic_jpeg_encode_errors;

typedef struct {
    unsigned char *buffer;
    unsigned long size;
} cic_jpeg_sink;

static void jpeg_encode_fail(j_common_ptr cinfo) {
    cic_jpeg_encode_errors *errors = (cic_jpeg_encode_errors *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    cic_set_message(errors->message, "%s", text);
    longjmp(errors->escape, 1);
}

static void jpeg_encode_quiet(j_common_ptr cinfo, int level) {
    (void)cinfo;
    (void)level;
}

int cic_jpeg_encode_rgb(const uint8_t *pixels, int32_t width, int32_t height, int32_t quality,
                        uint8_t **output, size_t *output_size, char message[CIC_MESSAGE_SIZE]) {
    *output = NULL;
    *output_size = 0;
    message[0] = 0;
    if (width <= 0 || height <= 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        cic_set_message(message, "JPEG cannot store a %dx%d image", width, height);
        return CIC_UNSUPPORTED;
    }
    if (quality < 1) quality = 1;
    if (quality > 100) quality = 100;

    // What the error path reads after a longjmp is either volatile or on the heap (libjpeg's
    // destination manager writes the buffer pointer through `sink`), never a plain local.
    struct jpeg_compress_struct cinfo;
    cic_jpeg_encode_errors errors;
    cic_jpeg_sink *volatile sink = calloc(1, sizeof(cic_jpeg_sink));
    volatile int created = 0;
    if (!sink) {
        cic_set_message(message, "out of memory");
        return CIC_NO_MEMORY;
    }

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = jpeg_encode_fail;
    errors.manager.emit_message = jpeg_encode_quiet;
    errors.message = message;

    if (setjmp(errors.escape)) {
        if (created) jpeg_destroy_compress(&cinfo);
        free(sink->buffer);
        free(sink);
        if (!message[0]) cic_set_message(message, "JPEG encoder failed");
        return CIC_CORRUPT;
    }

    jpeg_create_compress(&cinfo);
    created = 1;
    jpeg_mem_dest(&cinfo, &sink->buffer, &sink->size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    created = 0;

    // jpeg_mem_dest (re)allocates the buffer with malloc; it is final after jpeg_finish_compress.
    unsigned char *buffer = sink->buffer;
    size_t buffer_size = (size_t)sink->size;
    free(sink);
    *output = buffer;
    *output_size = buffer_size;
    return CIC_OK;
}

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int out_of_memory;
    char *message;
} cic_png_writer;

static void png_write_to_memory(png_structp png, png_bytep data, size_t count) {
    cic_png_writer *writer = (cic_png_writer *)png_get_io_ptr(png);
    if (count > SIZE_MAX - writer->size) {
        writer->out_of_memory = 1;
        png_error(png, "output too large");
    }
    if (writer->size + count > writer->capacity) {
        size_t capacity = writer->capacity ? writer->capacity : 65536;
        while (capacity < writer->size + count) {
            if (capacity > SIZE_MAX / 2) {
                capacity = writer->size + count;
                break;
            }
            capacity *= 2;
        }
        uint8_t *grown = realloc(writer->data, capacity);
        if (!grown) {
            writer->out_of_memory = 1;
            png_error(png, "out of memory");
        }
        writer->data = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->data + writer->size, data, count);
    writer->size += count;
}

static void png_flush_nothing(png_structp png) { (void)png; }

static void png_encode_fail(png_structp png, png_const_charp text) {
    cic_png_writer *writer = (cic_png_writer *)png_get_error_ptr(png);
    if (writer && writer->message && !writer->message[0]) cic_set_message(writer->message, "%s", text);
    png_longjmp(png, 1);
}

static void png_encode_quiet(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

int cic_png_encode_rgb(const uint8_t *pixels, int32_t width, int32_t height, int32_t compression_level,
                       uint8_t **output, size_t *output_size, char message[CIC_MESSAGE_SIZE]) {
    *output = NULL;
    *output_size = 0;
    message[0] = 0;
    if (width <= 0 || height <= 0) {
        cic_set_message(message, "PNG cannot store a %dx%d image", width, height);
        return CIC_UNSUPPORTED;
    }

    // The writer state lives on the heap: libpng changes it between setjmp and a possible
    // longjmp, so a plain local would be indeterminate on the error path.
    cic_png_writer *writer = calloc(1, sizeof(cic_png_writer));
    if (!writer) {
        cic_set_message(message, "out of memory");
        return CIC_NO_MEMORY;
    }
    writer->message = message;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, writer, png_encode_fail, png_encode_quiet);
    if (!png) {
        free(writer);
        cic_set_message(message, "libpng could not start");
        return CIC_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(writer);
        cic_set_message(message, "libpng could not start");
        return CIC_NO_MEMORY;
    }
    // `png`, `info` and `writer` are not assigned after setjmp.
    if (setjmp(png_jmpbuf(png))) {
        int status = writer->out_of_memory ? CIC_NO_MEMORY : CIC_CORRUPT;
        png_destroy_write_struct(&png, &info);
        free(writer->data);
        free(writer);
        if (!message[0]) cic_set_message(message, "PNG encoder failed");
        return status;
    }
    png_set_write_fn(png, writer, png_write_to_memory, png_flush_nothing);
    if (compression_level >= 0 && compression_level <= 9) png_set_compression_level(png, compression_level);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const size_t stride = (size_t)width * 3;
    for (int32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);

    *output = writer->data;
    *output_size = writer->size;
    free(writer);
    return CIC_OK;
}
