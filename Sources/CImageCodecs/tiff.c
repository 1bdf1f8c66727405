// TIFF through libtiff: the first directory's tags and its samples as libtiff decodes them
// (strips or tiles, any codec libtiff was built with, FillOrder already applied, 16-bit samples
// in native byte order). Separate planes are interleaved. Like Pillow's libtiff decoder,
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

// Whether the first directory lies (partly) past the end of the data.
static int header_truncated(const uint8_t *data, size_t size) {
    if (size < 8) return 1;
    int big = data[0] == 'M';
    uint64_t magic = read_u16(data + 2, big);
    if (magic == 43) {
        if (size < 16) return 1;
        uint64_t first = read_u32(data + 8, big), second = read_u32(data + 12, big);
        uint64_t offset = big ? (first << 32) | second : (second << 32) | first;
        return offset > size || size - offset < 8;
    }
    uint64_t offset = read_u32(data + 4, big);
    if (offset > size || size - offset < 2) return 1;
    uint64_t entries = read_u16(data + offset, big);
    return size - offset < 2 + 12 * entries;
}

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

// Whether some strip or tile extends past the end of the data.
static int striles_truncated(TIFF *tiff, toff_t size) {
    uint32_t count = TIFFIsTiled(tiff) ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t offset = TIFFGetStrileOffset(tiff, i), bytes = TIFFGetStrileByteCount(tiff, i);
        if (offset > size || bytes > size - offset) return 1;
    }
    return 0;
}

// Reads one plane (or all samples, when contiguous) into `plane`: height rows of `row_bytes`.
static int read_plane(TIFF *tiff, uint16_t plane_index, uint32_t width, uint32_t height, size_t row_bytes,
                      uint8_t *plane) {
    if (TIFFIsTiled(tiff)) {
        uint32_t tile_width = 0, tile_height = 0;
        TIFFGetField(tiff, TIFFTAG_TILEWIDTH, &tile_width);
        TIFFGetField(tiff, TIFFTAG_TILELENGTH, &tile_height);
        tmsize_t tile_bytes = TIFFTileSize(tiff), tile_row_bytes = TIFFTileRowSize(tiff);
        if (tile_width == 0 || tile_height == 0 || tile_bytes <= 0 || tile_row_bytes <= 0) return 0;
        uint8_t *tile = cic_alloc(tile_bytes, 1);
        if (!tile) return 0;
        // Bits per pixel of this plane, from the row sizes (tile widths are multiples of 16).
        const uint64_t row_bits = (uint64_t)tile_row_bytes * 8 / tile_width;
        for (uint32_t y = 0; y < height; y += tile_height) {
            for (uint32_t x = 0; x < width; x += tile_width) {
                if (TIFFReadTile(tiff, tile, x, y, 0, plane_index) < 0) {
                    free(tile);
                    return 0;
                }
                uint32_t rows = height - y < tile_height ? height - y : tile_height;
                uint32_t columns = width - x < tile_width ? width - x : tile_width;
                size_t start = (size_t)((uint64_t)x * row_bits / 8);
                size_t bytes = (size_t)(((uint64_t)columns * row_bits + 7) / 8);
                if (start + bytes > row_bytes) bytes = row_bytes - start;
                for (uint32_t r = 0; r < rows; r++) {
                    memcpy(plane + (size_t)(y + r) * row_bytes + start, tile + (size_t)r * (size_t)tile_row_bytes, bytes);
                }
            }
        }
        free(tile);
        return 1;
    }
    uint32_t rows_per_strip = 0;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    if (rows_per_strip == 0 || rows_per_strip > height) rows_per_strip = height;
    for (uint32_t y = 0; y < height; y += rows_per_strip) {
        uint32_t rows = height - y < rows_per_strip ? height - y : rows_per_strip;
        tstrip_t strip = TIFFComputeStrip(tiff, y, plane_index);
        if (TIFFReadEncodedStrip(tiff, strip, plane + (size_t)y * row_bytes, (tmsize_t)(rows * row_bytes)) < 0) return 0;
    }
    return 1;
}

static int read_samples(TIFF *tiff, cic_tiff_image *out) {
    const uint32_t width = (uint32_t)out->width, height = (uint32_t)out->height;
    const int separate = out->planar == PLANARCONFIG_SEPARATE && out->samples_per_pixel > 1;
    tmsize_t scanline = TIFFScanlineSize(tiff);
    if (scanline <= 0) return 0;
    if (!separate) {
        out->row_bytes = (size_t)scanline;
        out->pixels = cic_alloc(height, scanline);
        if (!out->pixels) return 0;
        return read_plane(tiff, 0, width, height, (size_t)scanline, out->pixels);
    }
    const int bytes_per_sample = out->bits_per_sample / 8;
    const int samples = out->samples_per_pixel;
    out->row_bytes = (size_t)width * (size_t)samples * (size_t)bytes_per_sample;
    out->pixels = cic_alloc(height, (int64_t)out->row_bytes);
    uint8_t *plane = cic_alloc(height, scanline);
    if (!out->pixels || !plane) {
        free(plane);
        return 0;
    }
    for (int s = 0; s < samples; s++) {
        if (!read_plane(tiff, (uint16_t)s, width, height, (size_t)scanline, plane)) {
            free(plane);
            return 0;
        }
        for (uint32_t y = 0; y < height; y++) {
            const uint8_t *source = plane + (size_t)y * (size_t)scanline;
            uint8_t *destination = out->pixels + (size_t)y * out->row_bytes + (size_t)s * bytes_per_sample;
            for (uint32_t x = 0; x < width; x++) {
                memcpy(destination + (size_t)x * samples * bytes_per_sample, source + (size_t)x * bytes_per_sample,
                       (size_t)bytes_per_sample);
            }
        }
    }
    free(plane);
    return 1;
}

static int read_rgba(TIFF *tiff, cic_tiff_image *out) {
    char reason[1024] = "";
    TIFFRGBAImage image;
    if (!TIFFRGBAImageOK(tiff, reason) || !TIFFRGBAImageBegin(&image, tiff, 0, reason)) {
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

int cic_tiff_decode(const uint8_t *data, size_t size, int64_t max_pixels, cic_tiff_image *out) {
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
        if (!out->message[0]) cic_set_message(out->message, "cannot read the TIFF directory");
        return header_truncated(data, size) ? CIC_TRUNCATED : CIC_CORRUPT;
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
    out->sample_format = format;
    out->fill_order = fill;
    out->orientation = orientation;
    out->extra_count = extra_count > 8 ? 8 : extra_count;
    for (int i = 0; i < out->extra_count && extra; i++) out->extra_samples[i] = extra[i];
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
    if (planar == PLANARCONFIG_SEPARATE && samples > 1 && bits != 8 && bits != 16) {
        cic_set_message(out->message, "separate planes of %d-bit samples", bits);
        TIFFClose(tiff);
        return CIC_UNSUPPORTED;
    }

    int ok;
    if (photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG) {
        TIFFSetField(tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        out->layout = CIC_TIFF_RGB8;
        ok = read_samples(tiff, out);
    } else if (photometric == PHOTOMETRIC_YCBCR) {
        ok = read_rgba(tiff, out);
    } else {
        out->layout = CIC_TIFF_SAMPLES;
        ok = read_samples(tiff, out);
    }
    int status = CIC_OK;
    if (!ok) {
        if (!out->pixels && !out->message[0]) status = CIC_NO_MEMORY;
        else status = striles_truncated(tiff, size) ? CIC_TRUNCATED : CIC_CORRUPT;
        if (!out->message[0]) cic_set_message(out->message, "cannot decode the TIFF image data");
        free(out->pixels);
        out->pixels = NULL;
    }
    TIFFClose(tiff);
    return status;
}
