// PNG through libpng, returning samples as stored (no gamma, no palette expansion, no 16 -> 8
// reduction) so that Swift can follow Pillow's PNG modes exactly. Only two transformations are
// requested: packing (1/2/4-bit samples become one byte each, unscaled) and Adam7 handling.
//
// Leniency follows Pillow: no width/height cap besides max_pixels; CRCs are checked for the
// chunks before the first IDAT only; once every row is decoded, whatever follows (IDAT CRC,
// zlib checksum, missing IEND) cannot fail the image, except a chunk after the one that completed
// the image whose data the file cuts short (Pillow reads those chunks, up to IEND, and calls such a
// file truncated). Data ending before the last row is reported as truncated. Nothing is inflated past the
// last row: compressed data after it (however much) is never read, as Pillow never reads it. Text chunks are not
// read at all (Pillow's limits on their decompressed size guard metadata we never use).
#include "codecs.h"
#include "shim_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    int ran_out;
    char *message;
    uint32_t rows_expected;  // rows libpng processes in all (per pass for Adam7)
    uint32_t rows_seen;      // rows processed so far; all rows are in the image once equal
    size_t image_end;        // input position when the last row was processed
} cic_png_reader;

static void png_read_from_memory(png_structp png, png_bytep destination, size_t count) {
    cic_png_reader *reader = (cic_png_reader *)png_get_io_ptr(png);
    // Once every row is in, libpng would go on inflating whatever compressed data follows (up to the end of the
    // zlib stream, however long); Pillow stops at the last row. Reading stops here, and the caller treats the
    // image as complete.
    if (reader->rows_expected > 0 && reader->rows_seen >= reader->rows_expected) png_error(png, "image complete");
    if (count > reader->size - reader->position) {
        reader->ran_out = 1;
        png_error(png, "unexpected end of data");
    }
    memcpy(destination, reader->data + reader->position, count);
    reader->position += count;
}

static void png_fail(png_structp png, png_const_charp text) {
    cic_png_reader *reader = (cic_png_reader *)png_get_error_ptr(png);
    if (reader && reader->message) cic_set_message(reader->message, "%s", text);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static uint32_t read_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

// Called by libpng for every row right before it is copied into the image; counting them tells
// whether an error raised afterwards (a bad IDAT CRC, data missing after the last row) can be
// ignored, as Pillow ignores it once the image is complete.
static void png_count_row(png_structp png, png_row_infop row_info, png_bytep data) {
    (void)row_info;
    (void)data;
    cic_png_reader *reader = (cic_png_reader *)png_get_io_ptr(png);
    if (++reader->rows_seen == reader->rows_expected) reader->image_end = reader->position;
}

static int is_chunk_name(const uint8_t *type) {
    for (int i = 0; i < 4; i++) {
        uint8_t c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

// Whether the file cuts short the data of a chunk that Pillow reads after the image: it skips the
// rest of the chunk holding the last byte the image needed (`image_end` - 1), then reads every chunk
// up to IEND (or an APNG fcTL), stopping quietly where no complete chunk header or no valid chunk
// name follows.
static int trailing_chunk_cut(const uint8_t *data, size_t size, size_t image_end) {
    size_t position = 8;
    while (position <= size && size - position >= 8) {
        uint64_t end = (uint64_t)position + 8 + read_be32(data + position);
        position = end + 4 > size ? size : (size_t)end + 4;
        if (end >= image_end) break;
    }
    while (position <= size && size - position >= 8) {
        const uint8_t *type = data + position + 4;
        if (!is_chunk_name(type) || memcmp(type, "IEND", 4) == 0 || memcmp(type, "fcTL", 4) == 0) return 0;
        uint32_t length = read_be32(data + position);
        if (length > size - position - 8) return 1;
        position += 12 + (size_t)length;
    }
    return 0;
}

// The status of a read whose every row was delivered.
static int image_complete(const cic_png_reader *reader, char *message) {
    if (trailing_chunk_cut(reader->data, reader->size, reader->image_end)) {
        cic_set_message(message, "a chunk after the image data is cut short");
        return CIC_TRUNCATED;
    }
    message[0] = 0;
    return CIC_OK;
}

// Rows libpng hands over in total: `height`, or the rows of each non-empty Adam7 pass.
static uint32_t rows_to_process(uint32_t width, uint32_t height, int interlaced) {
    if (!interlaced) return height;
    static const uint32_t x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
    static const uint32_t dy[7] = {8, 8, 8, 4, 4, 2, 2};
    uint32_t rows = 0;
    for (int pass = 0; pass < 7; pass++) {
        if (width <= x0[pass] || height <= y0[pass]) continue;
        rows += (height - y0[pass] + dy[pass] - 1) / dy[pass];
    }
    return rows;
}

// A chunk type for messages: letters and digits as they are, other bytes as \xNN (at most 16 characters).
static void chunk_type_text(const uint8_t *type, char out[17]) {
    char *at = out;
    for (int i = 0; i < 4; i++) {
        uint8_t c = type[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) *at++ = (char)c;
        else at += snprintf(at, 5, "\\x%02X", c);
    }
    *at = 0;
}

// Pillow verifies the CRC of every chunk before the first IDAT (a mismatch is a "broken PNG
// file") and none after; libpng is told to ignore CRCs, and this check covers the first part.
static int header_chunks_intact(const uint8_t *data, size_t size, char *message) {
    size_t position = 8;
    while (position + 8 <= size) {
        uint32_t length = read_be32(data + position);
        const uint8_t *type = data + position + 4;
        if (memcmp(type, "IDAT", 4) == 0) return 1;
        if ((size_t)length > size - position - 12 || size - position < 12) return 1;  // libpng reports it
        uint32_t stored = read_be32(data + position + 8 + length);
        uint32_t computed = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, length + 4);
        if (stored != computed) {
            char name[17];
            chunk_type_text(type, name);
            cic_set_message(message, "broken PNG file (CRC mismatch in chunk %s)", name);
            return 0;
        }
        position += 12 + (size_t)length;
    }
    return 1;
}

struct cic_png_decoder {
    png_structp png;
    png_infop info;
    cic_png_reader reader;
};

void cic_png_close(cic_png_decoder *decoder) {
    if (!decoder) return;
    png_destroy_read_struct(&decoder->png, &decoder->info, NULL);
    free(decoder);
}

int cic_png_open(const uint8_t *data, size_t size, int64_t max_pixels, cic_png_image *out,
                 cic_png_decoder **result) {
    memset(out, 0, sizeof(*out));
    *result = NULL;
    // The size limit is checked on IHDR itself, before libpng reads (or allocates) anything else.
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t width = read_be32(data + 16), height = read_be32(data + 20);
        if (cic_too_large(width, height, max_pixels)) {
            out->width = (int32_t)(width > INT32_MAX ? INT32_MAX : width);
            out->height = (int32_t)(height > INT32_MAX ? INT32_MAX : height);
            return CIC_TOO_LARGE;
        }
    }
    if (!header_chunks_intact(data, size, out->message)) return CIC_CORRUPT;

    cic_png_decoder *decoder = calloc(1, sizeof(cic_png_decoder));
    if (!decoder) return CIC_NO_MEMORY;
    decoder->reader = (cic_png_reader){data, size, 0, 0, out->message, 0, 0, 0};
    decoder->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &decoder->reader, png_fail, png_quiet);
    if (decoder->png) decoder->info = png_create_info_struct(decoder->png);
    if (!decoder->png || !decoder->info) {
        cic_png_close(decoder);
        return CIC_NO_MEMORY;
    }
    png_structp png = decoder->png;
    png_infop info = decoder->info;
    if (setjmp(png_jmpbuf(png))) {
        int status = decoder->reader.ran_out ? CIC_TRUNCATED : CIC_CORRUPT;
        cic_png_close(decoder);
        return status;
    }
    png_set_read_fn(png, &decoder->reader, png_read_from_memory);
    static const png_byte text_chunks[] = "tEXt\0zTXt\0iTXt";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, text_chunks, 3);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_benign_errors(png, 1);
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);

    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    out->bit_depth = bit_depth;
    out->color_type = color_type;
    out->interlaced = interlace != PNG_INTERLACE_NONE;
    if (cic_too_large(width, height, max_pixels)) {
        cic_png_close(decoder);
        return CIC_TOO_LARGE;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette = NULL;
        int count = 0;
        if (png_get_PLTE(png, info, &palette, &count) & PNG_INFO_PLTE) {
            if (count > 256) count = 256;
            for (int i = 0; i < count; i++) {
                out->palette[3 * i] = palette[i].red;
                out->palette[3 * i + 1] = palette[i].green;
                out->palette[3 * i + 2] = palette[i].blue;
            }
            out->palette_count = count;
        }
    }
    if (bit_depth < 8) png_set_packing(png);
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_set_read_user_transform_fn(png, png_count_row);
    png_read_update_info(png, info);
    out->channels = png_get_channels(png, info);
    out->row_bytes = png_get_rowbytes(png, info);
    decoder->reader.rows_expected = rows_to_process(width, height, interlace != PNG_INTERLACE_NONE);
    *result = decoder;
    return CIC_OK;
}

int cic_png_read(cic_png_decoder *decoder, uint8_t *pixels, size_t row_stride, cic_png_image *out) {
    const uint32_t height = (uint32_t)out->height;
    png_bytep *volatile rows = cic_alloc(height, (int64_t)sizeof(png_bytep));
    if (!rows) return CIC_NO_MEMORY;
    for (uint32_t y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_stride;
    cic_png_reader *reader = &decoder->reader;
    reader->message = out->message;
    if (setjmp(png_jmpbuf(decoder->png))) {
        free(rows);
        if (reader->rows_expected > 0 && reader->rows_seen >= reader->rows_expected) {
            // Every row was delivered; the error came from what follows the image data.
            return image_complete(reader, out->message);
        }
        return reader->ran_out ? CIC_TRUNCATED : CIC_CORRUPT;
    }
    png_read_image(decoder->png, rows);
    free(rows);
    return image_complete(reader, out->message);
}

int cic_png_read_row(cic_png_decoder *decoder, uint8_t *row, cic_png_image *out) {
    cic_png_reader *reader = &decoder->reader;
    reader->message = out->message;
    if (setjmp(png_jmpbuf(decoder->png))) {
        // After the last row, the error is the stop in png_read_from_memory (or comes from what follows the
        // image data): the row is already in `row`.
        if (reader->rows_expected > 0 && reader->rows_seen >= reader->rows_expected) {
            return image_complete(reader, out->message);
        }
        return reader->ran_out ? CIC_TRUNCATED : CIC_CORRUPT;
    }
    png_read_row(decoder->png, row, NULL);
    if (reader->rows_seen >= reader->rows_expected) return image_complete(reader, out->message);
    return CIC_OK;
}
