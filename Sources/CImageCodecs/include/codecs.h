// C shims over libjpeg, libpng, giflib, libtiff and libwebp for the Imaging module.
//
// Every library error path (libjpeg/libpng longjmp, giflib/libtiff/libwebp codes) stays inside
// these functions: each returns a CIC_* status, fills `message` with a short reason, and never
// prints, aborts or longjmps into Swift. Pixels come back in the source's native layout;
// conversions to RGB happen in Swift. JPEG, PNG and WebP (the common formats) decode in two
// steps, header then pixels, so that the caller provides the buffer and RGB output needs no
// copy; GIF and TIFF return a malloc'd buffer that the caller releases with cic_free().
// Every decoder reads the header first and refuses an image larger than `max_pixels` before any
// pixel buffer exists.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes shared by all decoders.
enum {
    CIC_OK = 0,
    CIC_CORRUPT = 1,      ///< malformed data
    CIC_TRUNCATED = 2,    ///< the data ends before the image does
    CIC_TOO_LARGE = 3,    ///< width * height exceeds max_pixels (width/height are filled in)
    CIC_UNSUPPORTED = 4,  ///< valid file, layout this decoder does not handle
    CIC_NO_MEMORY = 5,
    CIC_REFUSED = 6,      ///< the memory gate refused the decoder's pixel buffers
};

/// Asked once by the GIF and TIFF decoders right before they allocate their pixel buffers: `bytes` is what
/// those buffers take, `width` × `height` the image they will give. Returns nonzero to go on; 0 makes the
/// decoder stop with CIC_REFUSED (the caller keeps the reason).
typedef struct {
    int (*reserve)(void *context, int64_t bytes, int32_t width, int32_t height);
    void *context;
} cic_memory_gate;

#define CIC_MESSAGE_SIZE 200

void cic_free(void *pointer);

// ---------------------------------------------------------------------------------------------
// JPEG (libjpeg API, default ISLOW DCT and fancy upsampling, as Pillow decodes)
// ---------------------------------------------------------------------------------------------

typedef struct {
    int32_t width, height;
    int32_t components;      ///< samples per output pixel: 1 (grey), 3 (RGB), 4 (CMYK as libjpeg gives it)
    /// Bytes of the whole-image coefficient buffer libjpeg allocates for a progressive or multi-scan file
    /// (0 for a single-scan file, decoded a few rows at a time).
    int64_t coefficient_bytes;
    char message[CIC_MESSAGE_SIZE];
} cic_jpeg_image;

typedef struct cic_jpeg_decoder cic_jpeg_decoder;

/// Reads the header; on CIC_OK `*decoder` is ready for cic_jpeg_read (the caller sizes the buffer
/// from `info`). Release with cic_jpeg_close in every case (NULL is accepted).
int cic_jpeg_open(const uint8_t *data, size_t size, int64_t max_pixels, cic_jpeg_image *info,
                  cic_jpeg_decoder **decoder);
/// Decodes every row into `pixels` (height rows, `row_stride` bytes apart, width * components used).
int cic_jpeg_read(cic_jpeg_decoder *decoder, uint8_t *pixels, size_t row_stride, cic_jpeg_image *info);
/// Like cic_jpeg_read, but writes only the window of `width` × `height` pixels at (`x`, `y`) (inside the
/// image) into `pixels` (`row_stride` bytes per window row), with the same values a full decode has there.
/// Only the rows down to the window (plus a margin for the upsampler's context) are decoded to pixels, and
/// only the columns of the window's iMCUs (plus a margin); the rest of the stream is still read, so a
/// truncated file fails as it does in cic_jpeg_read.
int cic_jpeg_read_window(cic_jpeg_decoder *decoder, uint8_t *pixels, size_t row_stride, int32_t x, int32_t y,
                         int32_t width, int32_t height, cic_jpeg_image *info);
void cic_jpeg_close(cic_jpeg_decoder *decoder);

// ---------------------------------------------------------------------------------------------
// PNG (libpng). Samples are unscaled: bit depths below 8 are unpacked to one byte per sample
// (0...2^bits-1), 16-bit samples stay big-endian. Adam7 is de-interlaced.
// ---------------------------------------------------------------------------------------------

typedef struct {
    int32_t width, height;
    int32_t bit_depth;       ///< 1, 2, 4, 8 or 16 (as in IHDR)
    int32_t color_type;      ///< 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
    int32_t channels;        ///< samples per pixel
    int32_t interlaced;
    int32_t palette_count;   ///< PLTE entries (color type 3)
    uint8_t palette[256 * 3];
    size_t row_bytes;        ///< bytes per decoded row (width * channels * bytes per sample)
    char message[CIC_MESSAGE_SIZE];
} cic_png_image;

typedef struct cic_png_decoder cic_png_decoder;

/// Reads up to the image data; on CIC_OK `*decoder` is ready for cic_png_read. Release with
/// cic_png_close in every case (NULL is accepted).
int cic_png_open(const uint8_t *data, size_t size, int64_t max_pixels, cic_png_image *info,
                 cic_png_decoder **decoder);
/// Decodes every row into `pixels` (height rows, `row_stride` >= row_bytes bytes apart). Interlaced images
/// are read this way.
int cic_png_read(cic_png_decoder *decoder, uint8_t *pixels, size_t row_stride, cic_png_image *info);
/// Decodes the next row of a non-interlaced image into `row` (row_bytes bytes). Call once per row, top to
/// bottom; the call for the last row also checks what follows the image data. Nothing past the last row's
/// data is inflated (trailing compressed data is never read), as Pillow stops there too.
int cic_png_read_row(cic_png_decoder *decoder, uint8_t *row, cic_png_image *info);
void cic_png_close(cic_png_decoder *decoder);

// ---------------------------------------------------------------------------------------------
// GIF (giflib): the first image of the file, as palette indices within its own rectangle.
// ---------------------------------------------------------------------------------------------

typedef struct {
    int32_t screen_width, screen_height;
    int32_t background;                 ///< logical screen background index
    int32_t global_count;               ///< entries in the global colour table (0: none)
    uint8_t global_palette[256 * 3];
    int32_t left, top, width, height;   ///< first frame rectangle
    int32_t interlaced;
    int32_t local_count;                ///< entries in the frame's local table (0: none)
    uint8_t local_palette[256 * 3];
    int32_t transparency;               ///< GCE transparent index of the first frame, -1 if none
    uint8_t *pixels;                    ///< width * height indices, top-down (de-interlaced)
    char message[CIC_MESSAGE_SIZE];
} cic_gif_image;

/// `gate` is asked for the frame's index buffer (width × height of the canvas the frame is drawn on).
int cic_gif_decode(const uint8_t *data, size_t size, int64_t max_pixels, const cic_memory_gate *gate, cic_gif_image *out);

// ---------------------------------------------------------------------------------------------
// TIFF (libtiff): first directory. Samples as libtiff decodes them (FillOrder applied, 16- and 32-bit
// samples in native byte order), planar images interleaved, rows padded to a byte.
// `layout` tells how `pixels` is to be read.
// ---------------------------------------------------------------------------------------------

enum {
    CIC_TIFF_SAMPLES = 0,   ///< native samples: spp * bits per pixel, row_bytes per row
    CIC_TIFF_RGB8 = 1,      ///< YCbCr JPEG decoded to RGB by libjpeg: 3 bytes per pixel
    CIC_TIFF_RGBA8 = 2,     ///< TIFFRGBAImage output: 4 bytes per pixel, top-down rows
    /// Uncompressed separate planes of 16-bit samples, read as Pillow's own decoder reads them: one
    /// byte per sample, `samples_per_pixel` bytes per pixel (see tiff.c).
    CIC_TIFF_BYTE_PLANES = 3,
};

typedef struct {
    int32_t width, height;
    int32_t big_endian;
    int32_t photometric;
    int32_t compression;
    int32_t planar;
    int32_t bits_per_sample;
    int32_t stored_samples;            ///< SamplesPerPixel as stored
    /// SamplesPerPixel and ExtraSamples as Pillow keys its modes on them: for separate planes, trailing
    /// unspecified extra samples are left out (Pillow drops them, and reads none of their planes).
    int32_t samples_per_pixel;
    int32_t sample_format;
    int32_t fill_order;
    int32_t orientation;
    int32_t extra_count;
    int32_t extra_samples[8];
    int32_t colormap_count;            ///< entries in `colormap` (1 << bits for palette images)
    uint16_t colormap[3 * 256];        ///< R entries, then G, then B (16-bit values)
    int32_t layout;
    size_t row_bytes;
    uint8_t *pixels;
    char message[CIC_MESSAGE_SIZE];
} cic_tiff_image;

/// `gate` is asked for the sample buffer and the strip or tile buffer together.
int cic_tiff_decode(const uint8_t *data, size_t size, int64_t max_pixels, const cic_memory_gate *gate, cic_tiff_image *out);

// ---------------------------------------------------------------------------------------------
// WebP (libwebp): a still image, or the first frame of an animation composed onto its canvas.
// ---------------------------------------------------------------------------------------------

typedef struct {
    int32_t width, height;   ///< canvas size
    int32_t has_alpha;
    int32_t animated;
    char message[CIC_MESSAGE_SIZE];
} cic_webp_image;

/// Reads the header (canvas size, flags).
int cic_webp_info(const uint8_t *data, size_t size, int64_t max_pixels, cic_webp_image *info);
/// Decodes into `pixels`: width * height * 3 bytes, RGB, rows packed.
int cic_webp_decode_rgb(const uint8_t *data, size_t size, uint8_t *pixels, cic_webp_image *info);

#ifdef __cplusplus
}
#endif

// ---------------------------------------------------------------------------------------------
// Encoders (encode.c): 8-bit RGB, rows packed (width * 3 bytes per row, top-down). The output
// is malloc'd; the caller releases it with cic_free(). Errors never escape the function.
// ---------------------------------------------------------------------------------------------

#ifdef __cplusplus
extern "C" {
#endif

/// Baseline JPEG with the settings Pillow uses by default: jpeg_set_defaults, then
/// jpeg_set_quality(quality, force_baseline = TRUE); libjpeg's default 4:2:0 subsampling,
/// ISLOW DCT, no Huffman optimisation, JFIF header. `quality` is clamped to 1...100.
int cic_jpeg_encode_rgb(const uint8_t *pixels, int32_t width, int32_t height, int32_t quality,
                        uint8_t **output, size_t *output_size, char message[CIC_MESSAGE_SIZE]);

/// 8-bit RGB PNG (color type 2, not interlaced), zlib level `compression_level` (0...9; -1:
/// libpng's default).
int cic_png_encode_rgb(const uint8_t *pixels, int32_t width, int32_t height, int32_t compression_level,
                       uint8_t **output, size_t *output_size, char message[CIC_MESSAGE_SIZE]);

#ifdef __cplusplus
}
#endif
