// TIFF through libtiff: the first directory's tags and its samples as libtiff decodes them
// (strips or tiles, any codec libtiff was built with that Pillow knows by name, FillOrder already
// applied, 16- and 32-bit samples in native byte order), read in the order and through the reused
// buffer of Pillow's decoder. Separate planes are interleaved (uncompressed 16-bit ones the odd way
// Pillow's own decoder reads them, see read_blocks). Like Pillow's libtiff decoder,
// YCbCr data is converted by libtiff: through libjpeg (JPEGCOLORMODE_RGB) for new-style JPEG
// with contiguous planes, through TIFFRGBAImage otherwise. Everything else (modes, palettes,
// inversions, orientation) is interpreted in Swift.
//
// libtiff's messages go to per-file handlers (TIFFOpenOptions): nothing is printed, the first
// error text is returned in `message`.
#include "codecs.h"
#include "shim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

typedef struct {
    const uint8_t *data;
    toff_t size;
    toff_t position;
} cic_tiff_stream;

typedef struct {
    char *message;
    int errors;
} cic_tiff_log;

static tmsize_t stream_read(thandle_t handle, void *destination, tmsize_t count) {
    cic_tiff_stream *stream = (cic_tiff_stream *)handle;
    if (count <= 0 || stream->position >= stream->size) return 0;
    toff_t available = stream->size - stream->position;
    if ((toff_t)count > available) count = (tmsize_t)available;
    memcpy(destination, stream->data + stream->position, (size_t)count);
    stream->position += (toff_t)count;
    return count;
}

static tmsize_t stream_write(thandle_t handle, void *source, tmsize_t count) {
    (void)handle;
    (void)source;
    (void)count;
    return -1;
}

static toff_t stream_seek(thandle_t handle, toff_t offset, int whence) {
    cic_tiff_stream *stream = (cic_tiff_stream *)handle;
    toff_t base = whence == SEEK_CUR ? stream->position : whence == SEEK_END ? stream->size : 0;
    if (offset > UINT64_MAX - base) return (toff_t)-1;
    stream->position = base + offset;
    return stream->position;
}

static int stream_close(thandle_t handle) {
    (void)handle;
    return 0;
}

static toff_t stream_size(thandle_t handle) { return ((cic_tiff_stream *)handle)->size; }

static int stream_map(thandle_t handle, void **base, toff_t *size) {
    cic_tiff_stream *stream = (cic_tiff_stream *)handle;
    *base = (void *)stream->data;
    *size = stream->size;
    return 1;
}

static void stream_unmap(thandle_t handle, void *base, toff_t size) {
    (void)handle;
    (void)base;
    (void)size;
}

static int log_error(TIFF *tiff, void *user_data, const char *module, const char *format, va_list args) {
    (void)tiff;
    (void)module;
    cic_tiff_log *log = (cic_tiff_log *)user_data;
    if (log->errors++ == 0) vsnprintf(log->message, CIC_MESSAGE_SIZE, format, args);
    return 1;
}

static int log_warning(TIFF *tiff, void *user_data, const char *module, const char *format, va_list args) {
    (void)tiff;
    (void)user_data;
    (void)module;
    (void)format;
    (void)args;
    return 1;
}

static uint64_t read_u16(const uint8_t *p, int big) { return big ? ((uint64_t)p[0] << 8) | p[1] : ((uint64_t)p[1] << 8) | p[0]; }

static uint64_t read_u32(const uint8_t *p, int big) {
    return big ? (read_u16(p, 1) << 16) | read_u16(p + 2, 1) : (read_u16(p + 2, 0) << 16) | read_u16(p, 0);
}

// Whether the first directory lies (partly) past the end of the data; with a `message`, says where.
static int header_truncated_text(const uint8_t *data, size_t size, char *message) {
    if (size < 8) {
        if (message) cic_set_message(message, "the file ends inside the TIFF header (%zu bytes)", size);
        return 1;
    }
    int big = data[0] == 'M';
    uint64_t magic = read_u16(data + 2, big);
    uint64_t offset;
    int cut;
    if (magic == 43) {
        if (size < 16) {
            if (message) cic_set_message(message, "the file ends inside the BigTIFF header (%zu bytes)", size);
            return 1;
        }
        uint64_t first = read_u32(data + 8, big), second = read_u32(data + 12, big);
        offset = big ? (first << 32) | second : (second << 32) | first;
        cut = offset > size || size - offset < 8;
    } else {
        offset = read_u32(data + 4, big);
        cut = offset > size || size - offset < 2 || size - offset < 2 + 12 * read_u16(data + offset, big);
    }
    if (cut && message) {
        cic_set_message(message, "the first directory, at byte offset %llu, %s the end of the file (%zu bytes)",
                        (unsigned long long)offset, offset >= size ? "lies beyond" : "runs past", size);
    }
    return cut;
}

static int header_truncated(const uint8_t *data, size_t size) { return header_truncated_text(data, size, NULL); }

// The Photometric value stored in the first directory, or -1. libtiff quietly reinterprets a
// palette image whose colormap cannot be read as greyscale; Pillow refuses such a file.
static int stored_photometric(const uint8_t *data, size_t size) {
    if (size < 8) return -1;
    int big = data[0] == 'M';
    int bigtiff = read_u16(data + 2, big) == 43;
    uint64_t offset, entries, entry_size = bigtiff ? 20 : 12, count_size = bigtiff ? 8 : 2;
    if (bigtiff) {
        if (size < 16) return -1;
        uint64_t first = read_u32(data + 8, big), second = read_u32(data + 12, big);
        offset = big ? (first << 32) | second : (second << 32) | first;
    } else {
        offset = read_u32(data + 4, big);
    }
    if (offset > size || size - offset < count_size) return -1;
    if (bigtiff) {
        uint64_t first = read_u32(data + offset, big), second = read_u32(data + offset + 4, big);
        entries = big ? (first << 32) | second : (second << 32) | first;
    } else {
        entries = read_u16(data + offset, big);
    }
    for (uint64_t i = 0; i < entries; i++) {
        uint64_t at = offset + count_size + i * entry_size;
        if (at > size || size - at < entry_size) return -1;
        if (read_u16(data + at, big) == TIFFTAG_PHOTOMETRIC) {
            uint64_t type = read_u16(data + at + 2, big);
            uint64_t value_at = at + (bigtiff ? 12 : 8);
            return type == 3 ? (int)read_u16(data + value_at, big) : type == 4 ? (int)read_u32(data + value_at, big) : -1;
        }
    }
    return -1;
}

// Whether Pillow's TiffImagePlugin knows the compression scheme (it refuses a file with any other,
// even one libtiff could decode, such as LERC or JBIG).
static int known_compression(int32_t compression) {
    static const int32_t known[] = {1, 2, 3, 4, 5, 6, 7, 8, 32771, 32773, 32809, 32946, 34676, 34677, 34925, 50000, 50001};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (known[i] == compression) return 1;
    }
    return 0;
}

// Whether the layout is one to refuse before decoding (Pillow refuses each of them too); the reason
// goes to out->message. `stored_samples` is SamplesPerPixel as stored.
static int refused_layout(cic_tiff_image *out, int stored_samples) {
    const int separate = out->planar == PLANARCONFIG_SEPARATE;
    if (stored_samples > 6) {
        // Pillow refuses more samples than any of its modes has (a guard against absurd values).
        cic_set_message(out->message, "%d samples per pixel", stored_samples);
    } else if (!known_compression(out->compression)) {
        cic_set_message(out->message, "unknown compression scheme %d", out->compression);
    } else if (out->compression == COMPRESSION_WEBP && separate && stored_samples > 1) {
        // libtiff's WebP codec needs contiguous samples; it would decode such planes as garbage.
        cic_set_message(out->message, "WebP compression of separate planes");
    } else if (out->samples_per_pixel == 0) {
        cic_set_message(out->message, "no samples besides %d unspecified extra samples", stored_samples);
    } else if (separate && out->samples_per_pixel > 4) {
        // Pillow's libtiff decoder reads one plane per band of its mode, at most four: beyond that its
        // unpacker sizes no longer match libtiff's and it refuses the file.
        cic_set_message(out->message, "%d separate planes", out->samples_per_pixel);
    } else if (separate && out->samples_per_pixel > 1 && out->bits_per_sample != 8 && out->bits_per_sample != 16) {
        cic_set_message(out->message, "separate planes of %d-bit samples", out->bits_per_sample);
    } else {
        return 0;
    }
    return 1;
}

// Whether some strip or tile extends past the end of the data; with a `message`, says which and where (in
// place of libtiff's text, which prints the negative difference as a huge unsigned count).
static int striles_truncated_text(TIFF *tiff, toff_t size, char *message) {
    uint32_t count = TIFFIsTiled(tiff) ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff);
    const char *kind = TIFFIsTiled(tiff) ? "tile" : "strip";
    for (uint32_t i = 0; i < count; i++) {
        uint64_t offset = TIFFGetStrileOffset(tiff, i), bytes = TIFFGetStrileByteCount(tiff, i);
        if (offset > size || bytes > size - offset) {
            if (!message) return 1;
            if (offset >= size) {
                cic_set_message(message, "%s %u starts at byte offset %llu, beyond the end of the file (%llu bytes)", kind, i,
                                (unsigned long long)offset, (unsigned long long)size);
            } else {
                cic_set_message(message, "%s %u (%llu bytes at byte offset %llu) runs past the end of the file (%llu bytes)",
                                kind, i, (unsigned long long)bytes, (unsigned long long)offset, (unsigned long long)size);
            }
            return 1;
        }
    }
    return 0;
}

static int striles_truncated(TIFF *tiff, toff_t size) { return striles_truncated_text(tiff, size, NULL); }

// Copies `bits` bits from `source` (from its first bit) to `destination` starting at bit `offset`,
// most significant bit first; whole bytes when `offset` is a multiple of 8.
static void copy_bits(uint8_t *destination, uint64_t offset, const uint8_t *source, uint64_t bits) {
    if (offset % 8 == 0) {
        memcpy(destination + offset / 8, source, (size_t)(bits / 8));
        if (bits % 8) {
            uint8_t mask = (uint8_t)(0xFF << (8 - bits % 8));
            uint8_t *last = destination + offset / 8 + bits / 8;
            *last = (uint8_t)((*last & ~mask) | (source[bits / 8] & mask));
        }
        return;
    }
    for (uint64_t i = 0; i < bits; i++) {
        uint64_t to = offset + i;
        uint8_t bit = (uint8_t)((source[i / 8] >> (7 - i % 8)) & 1);
        uint8_t mask = (uint8_t)(0x80 >> (to % 8));
        destination[to / 8] = bit ? (uint8_t)(destination[to / 8] | mask) : (uint8_t)(destination[to / 8] & ~mask);
    }
}

// Where the decoded rows go: `pixels`, rows of `row_bytes`; with separate planes, sample `plane` of
// each of the `samples` interleaved `sample_bytes`-byte samples, otherwise the row's bits as decoded.
// `byte_planes`: Pillow's reading of uncompressed 16-bit planes (see read_blocks), with `swap` when
// libtiff's native byte order is not the file's.
typedef struct {
    uint8_t *pixels;
    size_t row_bytes;
    int separate, samples, sample_bytes;
    uint32_t bits_per_pixel;  // of one decoded row (one plane when separate)
    int byte_planes, swap;
} cic_tiff_target;

// Puts `columns` pixels of one decoded row (`source`) at column `x` of row `y`, sample `plane`.
static void put_row(const cic_tiff_target *target, uint32_t y, uint32_t x, uint32_t columns, uint16_t plane,
                    const uint8_t *source) {
    uint8_t *row = target->pixels + (size_t)y * target->row_bytes;
    if (!target->separate) {
        copy_bits(row, (uint64_t)x * target->bits_per_pixel, source, (uint64_t)columns * target->bits_per_pixel);
        return;
    }
    const size_t step = (size_t)target->samples * (size_t)target->sample_bytes;
    uint8_t *destination = row + (size_t)x * step + (size_t)plane * (size_t)target->sample_bytes;
    for (uint32_t i = 0; i < columns; i++) {
        memcpy(destination + (size_t)i * step, source + (size_t)i * (size_t)target->sample_bytes,
               (size_t)target->sample_bytes);
    }
}

// Decodes every strip or tile of the first `planes` planes, in Pillow's order (strip or tile rows
// outermost, then planes, then tiles across) through one buffer that starts zeroed and is reused: a
// codec that stops early without an error (CCITT fax does) leaves the previous block's bytes in place,
// exactly as in Pillow's decoder.
//
// Pillow reads uncompressed separate planes with its own decoder, one plane per letter of its rawmode
// ("RGB;16L" gives "R", "G", "B"): 16-bit planes are then read as 8-bit ones, from the file's bytes.
// A block's row r is taken `width` bytes (the tile width, or the image width for strips) after row
// r - 1, or a whole 16-bit row after it for tiles reaching past the right edge; its first bytes are
// the samples. `byte_planes` reproduces that, byte for byte.
static int read_blocks(TIFF *tiff, const cic_tiff_target *target, uint32_t width, uint32_t height, int planes,
                       char *message) {
    const int tiled = TIFFIsTiled(tiff);
    uint32_t block_width = width, block_height = 0;
    tmsize_t block_bytes, block_row_bytes;
    if (tiled) {
        TIFFGetField(tiff, TIFFTAG_TILEWIDTH, &block_width);
        TIFFGetField(tiff, TIFFTAG_TILELENGTH, &block_height);
        block_bytes = TIFFTileSize(tiff);
        block_row_bytes = TIFFTileRowSize(tiff);
    } else {
        TIFFGetFieldDefaulted(tiff, TIFFTAG_ROWSPERSTRIP, &block_height);
        if (block_height == 0 || block_height > height) block_height = height;
        block_bytes = TIFFStripSize(tiff);
        block_row_bytes = TIFFScanlineSize(tiff);
    }
    if (block_width == 0 || block_height == 0 || block_bytes <= 0 || block_row_bytes <= 0 ||
        (uint64_t)block_row_bytes * 8 < (uint64_t)block_width * target->bits_per_pixel ||
        (uint64_t)block_row_bytes * block_height > (uint64_t)block_bytes) {
        cic_set_message(message, "strip or tile sizes that do not fit the samples");
        return 0;
    }
    uint8_t *block = calloc((size_t)block_bytes, 1);
    if (!block) return 0;
    for (uint32_t y = 0; y < height; y += block_height) {
        uint32_t rows = height - y < block_height ? height - y : block_height;
        for (uint16_t plane = 0; plane < planes; plane++) {
            for (uint32_t x = 0; x < width; x += block_width) {
                tmsize_t got = tiled ? TIFFReadTile(tiff, block, x, y, 0, plane)
                                     : TIFFReadEncodedStrip(tiff, TIFFComputeStrip(tiff, y, plane), block, block_bytes);
                if (got < 0) {
                    free(block);
                    return 0;
                }
                uint32_t columns = width - x < block_width ? width - x : block_width;
                size_t row_step = (size_t)block_row_bytes;
                if (target->byte_planes) {
                    if (target->swap) TIFFSwabArrayOfShort((uint16_t *)block, block_bytes / 2);
                    row_step = x + block_width > width ? 2 * (size_t)block_width : block_width;
                }
                for (uint32_t r = 0; r < rows; r++) {
                    put_row(target, y + r, x, columns, plane, block + (size_t)r * row_step);
                }
            }
        }
    }
    free(block);
    return 1;
}

// Asks the gate for `bytes` of pixel buffers; the strip or tile buffer libtiff decodes into comes on top.
static int gate_allows(const cic_memory_gate *gate, TIFF *tiff, uint64_t bytes, cic_tiff_image *out) {
    if (!gate) return 1;
    uint64_t block = TIFFIsTiled(tiff) ? TIFFTileSize64(tiff) : TIFFStripSize64(tiff);
    uint64_t total = bytes > UINT64_MAX - block ? UINT64_MAX : bytes + block;
    if (!gate->reserve(gate->context, total > INT64_MAX ? INT64_MAX : (int64_t)total, out->width, out->height)) {
        cic_set_message(out->message, "refused by the memory budget");
        return 0;
    }
    return 1;
}

static int read_samples(TIFF *tiff, const cic_memory_gate *gate, cic_tiff_image *out) {
    const uint32_t width = (uint32_t)out->width, height = (uint32_t)out->height;
    const int separate = out->planar == PLANARCONFIG_SEPARATE && out->samples_per_pixel > 1;
    tmsize_t scanline = TIFFScanlineSize(tiff);
    if (scanline <= 0) return 0;
    // Bits of one pixel in a decoded row: one sample of a plane, or every sample (RGB for YCbCr JPEG).
    uint32_t bits = (uint32_t)out->bits_per_sample;
    if (out->layout == CIC_TIFF_RGB8) bits = 24;
    else if (out->layout == CIC_TIFF_BYTE_PLANES) bits = 8;
    else if (out->planar != PLANARCONFIG_SEPARATE) bits *= (uint32_t)out->samples_per_pixel;
    cic_tiff_target target = {NULL, (size_t)scanline, separate, out->samples_per_pixel, (int)bits / 8, bits,
                              out->layout == CIC_TIFF_BYTE_PLANES, TIFFIsByteSwapped(tiff)};
    if (separate) target.row_bytes = (size_t)width * (size_t)target.samples * (size_t)target.sample_bytes;
    if ((uint64_t)target.row_bytes * 8 < (uint64_t)width * (separate ? bits * (uint32_t)target.samples : bits)) {
        cic_set_message(out->message, "rows shorter than their samples");
        return 0;
    }
    out->row_bytes = target.row_bytes;
    if (!gate_allows(gate, tiff, (uint64_t)height * target.row_bytes, out)) return -1;
    out->pixels = cic_alloc(height, (int64_t)target.row_bytes);
    if (!out->pixels) return 0;
    memset(out->pixels, 0, (size_t)height * target.row_bytes);  // row padding bits
    target.pixels = out->pixels;
    return read_blocks(tiff, &target, width, height, separate ? out->samples_per_pixel : 1, out->message);
}

static int read_rgba(TIFF *tiff, const cic_memory_gate *gate, cic_tiff_image *out) {
    char reason[1024] = "";
    TIFFRGBAImage image;
    if (!TIFFRGBAImageOK(tiff, reason)) {
        cic_set_message(out->message, "%s", reason);
        return 0;
    }
    if (!gate_allows(gate, tiff, (uint64_t)out->width * (uint64_t)out->height * 4, out)) return -1;
    if (!TIFFRGBAImageBegin(&image, tiff, 0, reason)) {
        cic_set_message(out->message, "%s", reason);
        return 0;
    }
    image.req_orientation = ORIENTATION_TOPLEFT;
    image.orientation = ORIENTATION_TOPLEFT;
    out->layout = CIC_TIFF_RGBA8;
    out->row_bytes = (size_t)out->width * 4;
    out->pixels = cic_alloc(out->height, (int64_t)out->row_bytes);
    int ok = out->pixels && TIFFRGBAImageGet(&image, (uint32_t *)out->pixels, (uint32_t)out->width, (uint32_t)out->height);
    TIFFRGBAImageEnd(&image);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (ok) TIFFSwabArrayOfLong((uint32_t *)out->pixels, (tmsize_t)out->width * out->height);
#endif
    return ok;
}

int cic_tiff_decode(const uint8_t *data, size_t size, int64_t max_pixels, const cic_memory_gate *gate, cic_tiff_image *out) {
    memset(out, 0, sizeof(*out));
    cic_tiff_stream stream = {data, size, 0};
    cic_tiff_log log = {out->message, 0};
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) return CIC_NO_MEMORY;
    TIFFOpenOptionsSetErrorHandlerExtR(options, log_error, &log);
    TIFFOpenOptionsSetWarningHandlerExtR(options, log_warning, &log);
    // No single allocation beyond what the largest admissible image needs (16-bit RGBA), plus slack.
    int64_t cap = max_pixels > (INT64_MAX - (64 << 20)) / 8 ? INT64_MAX : max_pixels * 8 + (64 << 20);
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)(cap > (int64_t)(SIZE_MAX >> 1) ? (int64_t)(SIZE_MAX >> 1) : cap));
    TIFF *tiff = TIFFClientOpenExt("memory", "r", &stream, stream_read, stream_write, stream_seek, stream_close,
                                   stream_size, stream_map, stream_unmap, options);
    TIFFOpenOptionsFree(options);
    if (!tiff) {
        if (header_truncated_text(data, size, out->message)) return CIC_TRUNCATED;
        if (!out->message[0]) cic_set_message(out->message, "cannot read the TIFF directory");
        return CIC_CORRUPT;
    }

    uint32_t width = 0, height = 0;
    if (!TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width) || !TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height)) {
        cic_set_message(out->message, "missing image dimensions");
        TIFFClose(tiff);
        return CIC_CORRUPT;
    }
    uint16_t bits = 1, samples = 1, photometric = 0, compression = 1, planar = 1, format = 1, fill = 1, orientation = 1;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &samples);
    TIFFGetField(tiff, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_FILLORDER, &fill);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_ORIENTATION, &orientation);
    uint16_t extra_count = 0;
    uint16_t *extra = NULL;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
    out->width = (int32_t)(width > INT32_MAX ? INT32_MAX : width);
    out->height = (int32_t)(height > INT32_MAX ? INT32_MAX : height);
    out->big_endian = TIFFIsBigEndian(tiff);
    out->photometric = photometric;
    out->compression = compression;
    out->planar = planar;
    out->bits_per_sample = bits;
    out->samples_per_pixel = samples;
    out->stored_samples = samples;
    out->sample_format = format;
    out->fill_order = fill;
    out->orientation = orientation;
    if (!extra) extra_count = 0;
    // Separate planes: trailing unspecified extra samples are not part of the image (Pillow leaves them
    // out of its mode key and never reads their planes, which may even be empty).
    int unspecified_extras = planar == PLANARCONFIG_SEPARATE && extra_count > 0;
    for (int i = 0; i < extra_count && unspecified_extras; i++) unspecified_extras = extra[i] == EXTRASAMPLE_UNSPECIFIED;
    if (unspecified_extras) {
        out->samples_per_pixel = samples > extra_count ? samples - extra_count : 0;
        extra_count = 0;
    }
    out->extra_count = extra_count > 8 ? 8 : extra_count;
    for (int i = 0; i < out->extra_count; i++) out->extra_samples[i] = extra[i];
    if (photometric == PHOTOMETRIC_PALETTE && bits <= 8) {
        uint16_t *red = NULL, *green = NULL, *blue = NULL;
        if (TIFFGetField(tiff, TIFFTAG_COLORMAP, &red, &green, &blue) && red && green && blue) {
            int count = 1 << bits;
            for (int i = 0; i < count; i++) {
                out->colormap[i] = red[i];
                out->colormap[256 + i] = green[i];
                out->colormap[512 + i] = blue[i];
            }
            out->colormap_count = count;
        }
    }
    if (stored_photometric(data, size) == PHOTOMETRIC_PALETTE && photometric != PHOTOMETRIC_PALETTE) {
        cic_set_message(out->message, "palette image whose colormap cannot be read");
        TIFFClose(tiff);
        return header_truncated(data, size) || striles_truncated(tiff, size) ? CIC_TRUNCATED : CIC_CORRUPT;
    }
    if (width > INT32_MAX || height > INT32_MAX || cic_too_large(width, height, max_pixels)) {
        TIFFClose(tiff);
        return CIC_TOO_LARGE;
    }
    if (width == 0 || height == 0) {
        cic_set_message(out->message, "empty image (%u x %u)", width, height);
        TIFFClose(tiff);
        return CIC_CORRUPT;
    }
    if (refused_layout(out, samples)) {
        TIFFClose(tiff);
        return CIC_UNSUPPORTED;
    }

    int ok;
    if (photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG) {
        TIFFSetField(tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        out->layout = CIC_TIFF_RGB8;
        ok = read_samples(tiff, gate, out);
    } else if (photometric == PHOTOMETRIC_YCBCR) {
        ok = read_rgba(tiff, gate, out);
    } else {
        int byte_planes = compression == COMPRESSION_NONE && planar == PLANARCONFIG_SEPARATE && bits == 16 &&
                          out->samples_per_pixel > 1;
        out->layout = byte_planes ? CIC_TIFF_BYTE_PLANES : CIC_TIFF_SAMPLES;
        ok = read_samples(tiff, gate, out);
    }
    int status = CIC_OK;
    if (ok < 0) {
        status = CIC_REFUSED;
    } else if (!ok) {
        if (!out->pixels && !out->message[0]) status = CIC_NO_MEMORY;
        else status = striles_truncated_text(tiff, size, out->message) ? CIC_TRUNCATED : CIC_CORRUPT;
        if (!out->message[0]) cic_set_message(out->message, "cannot decode the TIFF image data");
        free(out->pixels);
        out->pixels = NULL;
    }
    TIFFClose(tiff);
    return status;
}
