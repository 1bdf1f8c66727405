// JPEG through the libjpeg API (libjpeg-turbo), decoding the way Pillow's JpegDecode does:
// default DCT (ISLOW) and fancy upsampling; grey -> JCS_GRAYSCALE, 3 components -> JCS_RGB,
// 4 components -> JCS_CMYK (libjpeg turns YCCK into CMYK). The CMYK inversion Pillow applies
// ("CMYK;I") and its CMYK -> RGB formula are done in Swift.
//
// Truncation: the source manager feeds a fake EOI when the data runs out. If that happens
// before the last scanline has been delivered, the image is reported as truncated (Pillow
// raises "image file is truncated" in that case); running out while reading the trailing EOI
// is accepted, as in Pillow.
#include "codecs.h"
#include "shim_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf escape;
} cic_jpeg_errors;

// Progressive files with absurd numbers of scans make every scan re-touch the whole coefficient
// buffer; real encoders emit about ten. Beyond this many the file is refused.
#define CIC_JPEG_MAX_SCANS 1000

typedef struct {
    struct jpeg_progress_mgr manager;
    char *message;
    int aborted;  // the message is already set
} cic_jpeg_progress;

static void jpeg_check_scans(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr decompressor = (j_decompress_ptr)cinfo;
    if (decompressor->input_scan_number > CIC_JPEG_MAX_SCANS) {
        cic_jpeg_progress *progress = (cic_jpeg_progress *)cinfo->progress;
        cic_set_message(progress->message, "more than %d scans", CIC_JPEG_MAX_SCANS);
        progress->aborted = 1;
        longjmp(((cic_jpeg_errors *)cinfo->err)->escape, 1);
    }
}

typedef struct {
    struct jpeg_source_mgr manager;
    int all_rows_read;    // set once every scanline has been delivered
    int ran_out_early;    // the data ended before all scanlines were delivered
} cic_jpeg_source;

static const JOCTET fake_eoi[2] = {0xFF, JPEG_EOI};

static void jpeg_fail(j_common_ptr cinfo) {
    cic_jpeg_errors *errors = (cic_jpeg_errors *)cinfo->err;
    longjmp(errors->escape, 1);
}

static void jpeg_quiet_message(j_common_ptr cinfo, int level) {
    (void)level;
    // Warnings (corrupt-data notices, premature end) are not printed; libjpeg still counts
    // them in num_warnings. Truncation is detected by the source manager instead.
    if (level < 0) cinfo->err->num_warnings++;
}

static void jpeg_no_output(j_common_ptr cinfo) { (void)cinfo; }

static void source_init(j_decompress_ptr cinfo) { (void)cinfo; }

static boolean source_fill(j_decompress_ptr cinfo) {
    cic_jpeg_source *source = (cic_jpeg_source *)cinfo->src;
    if (!source->all_rows_read) source->ran_out_early = 1;
    source->manager.next_input_byte = fake_eoi;
    source->manager.bytes_in_buffer = 2;
    return TRUE;
}

static void source_skip(j_decompress_ptr cinfo, long count) {
    cic_jpeg_source *source = (cic_jpeg_source *)cinfo->src;
    if (count <= 0) return;
    if ((size_t)count > source->manager.bytes_in_buffer) {
        source_fill(cinfo);
        return;
    }
    source->manager.next_input_byte += count;
    source->manager.bytes_in_buffer -= (size_t)count;
}

static void source_term(j_decompress_ptr cinfo) { (void)cinfo; }

struct cic_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_errors errors;
    cic_jpeg_source source;
    cic_jpeg_progress progress;
};

// The libjpeg message of the error that escaped, unless the scan limit already wrote one.
static int escaped(cic_jpeg_decoder *decoder, char *message) {
    if (!decoder->progress.aborted) {
        char text[JMSG_LENGTH_MAX];
        (*decoder->cinfo.err->format_message)((j_common_ptr)&decoder->cinfo, text);
        cic_set_message(message, "%s", text);
    }
    return decoder->source.ran_out_early ? CIC_TRUNCATED : CIC_CORRUPT;
}

void cic_jpeg_close(cic_jpeg_decoder *decoder) {
    if (!decoder) return;
    jpeg_destroy_decompress(&decoder->cinfo);
    free(decoder);
}

// The whole-image coefficient buffer libjpeg allocates when the components do not all come in one scan
// (progressive, or sequential with one scan per component): 64 two-byte coefficients per block of every
// component, block rows and columns rounded up to the component's sampling factors. The block counts are
// known once the header (up to the first SOS) is read.
static int64_t coefficient_bytes(const struct jpeg_decompress_struct *cinfo) {
    if (!cinfo->progressive_mode && cinfo->comps_in_scan >= cinfo->num_components) return 0;
    int64_t total = 0;
    for (int i = 0; i < cinfo->num_components; i++) {
        const jpeg_component_info *component = &cinfo->comp_info[i];
        int64_t h = component->h_samp_factor > 0 ? component->h_samp_factor : 1;
        int64_t v = component->v_samp_factor > 0 ? component->v_samp_factor : 1;
        int64_t columns = ((int64_t)component->width_in_blocks + h - 1) / h * h;
        int64_t rows = ((int64_t)component->height_in_blocks + v - 1) / v * v;
        total += columns * rows * 64 * (int64_t)sizeof(JCOEF);
    }
    return total;
}

int cic_jpeg_open(const uint8_t *data, size_t size, int64_t max_pixels, cic_jpeg_image *info,
                  cic_jpeg_decoder **result) {
    memset(info, 0, sizeof(*info));
    *result = NULL;
    cic_jpeg_decoder *decoder = calloc(1, sizeof(cic_jpeg_decoder));
    if (!decoder) return CIC_NO_MEMORY;
    struct jpeg_decompress_struct *cinfo = &decoder->cinfo;
    cinfo->err = jpeg_std_error(&decoder->errors.manager);
    decoder->errors.manager.error_exit = jpeg_fail;
    decoder->errors.manager.emit_message = jpeg_quiet_message;
    decoder->errors.manager.output_message = jpeg_no_output;
    decoder->progress.message = info->message;
    if (setjmp(decoder->errors.escape)) {
        int status = escaped(decoder, info->message);
        cic_jpeg_close(decoder);
        return status;
    }
    jpeg_create_decompress(cinfo);
    decoder->progress.manager.progress_monitor = jpeg_check_scans;
    cinfo->progress = &decoder->progress.manager;
    cic_jpeg_source *source = &decoder->source;
    source->manager.init_source = source_init;
    source->manager.fill_input_buffer = source_fill;
    source->manager.skip_input_data = source_skip;
    source->manager.resync_to_restart = jpeg_resync_to_restart;
    source->manager.term_source = source_term;
    source->manager.next_input_byte = data;
    source->manager.bytes_in_buffer = size;
    cinfo->src = &source->manager;

    int status = CIC_OK;
    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
        cic_set_message(info->message, "no image in the JPEG stream (tables only)");
        status = CIC_CORRUPT;
    } else {
        info->width = (int32_t)cinfo->image_width;
        info->height = (int32_t)cinfo->image_height;
        info->components = cinfo->num_components;
        if (source->ran_out_early) {
            cic_set_message(info->message, "data ends inside the JPEG header");
            status = CIC_TRUNCATED;
        } else if (cinfo->data_precision != 8) {
            cic_set_message(info->message, "cannot handle %d-bit samples", cinfo->data_precision);
            status = CIC_UNSUPPORTED;
        } else if (cinfo->num_components != 1 && cinfo->num_components != 3 && cinfo->num_components != 4) {
            cic_set_message(info->message, "cannot handle %d-component images", cinfo->num_components);
            status = CIC_UNSUPPORTED;
        } else if (cic_too_large(cinfo->image_width, cinfo->image_height, max_pixels)) {
            status = CIC_TOO_LARGE;
        } else if (cinfo->image_width == 0 || cinfo->image_height == 0) {
            cic_set_message(info->message, "empty image");
            status = CIC_CORRUPT;
        }
        cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE
                                 : cinfo->num_components == 3 ? JCS_RGB : JCS_CMYK;
        if (status == CIC_OK) info->coefficient_bytes = coefficient_bytes(cinfo);
    }
    if (status != CIC_OK) {
        cic_jpeg_close(decoder);
        return status;
    }
    *result = decoder;
    return CIC_OK;
}

// After the last scanline: a stream that ran out before it is truncated (as Pillow reports it); else
// the trailing markers are read.
static int finish_reading(cic_jpeg_decoder *decoder, cic_jpeg_image *info) {
    decoder->source.all_rows_read = 1;
    if (decoder->source.ran_out_early) {
        cic_set_message(info->message, "image file is truncated");
        return CIC_TRUNCATED;
    }
    jpeg_finish_decompress(&decoder->cinfo);
    return CIC_OK;
}

int cic_jpeg_read(cic_jpeg_decoder *decoder, uint8_t *pixels, size_t row_stride, cic_jpeg_image *info) {
    struct jpeg_decompress_struct *cinfo = &decoder->cinfo;
    decoder->progress.message = info->message;
    if (setjmp(decoder->errors.escape)) return escaped(decoder, info->message);

    jpeg_start_decompress(cinfo);
    if (cinfo->output_components != cinfo->num_components || cinfo->output_width != cinfo->image_width ||
        cinfo->output_height != cinfo->image_height) {
        cic_set_message(info->message, "unexpected decoder output layout");
        return CIC_UNSUPPORTED;
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW rows[16];
        JDIMENSION count = 0;
        while (count < 16 && cinfo->output_scanline + count < cinfo->output_height) {
            rows[count] = pixels + (size_t)(cinfo->output_scanline + count) * row_stride;
            count++;
        }
        if (jpeg_read_scanlines(cinfo, rows, count) == 0) {
            cic_set_message(info->message, "decoder made no progress");
            return CIC_CORRUPT;
        }
    }
    return finish_reading(decoder, info);
}

// Context the fancy upsampler reads around a pixel (one chroma sample = up to 2 pixels for 2x2
// subsampling), rounded up to a whole iMCU: the window is decoded with this many extra rows and
// columns on each side, so its pixels see the same neighbours as in a full decode.
#define CIC_JPEG_WINDOW_MARGIN 16

int cic_jpeg_read_window(cic_jpeg_decoder *decoder, uint8_t *pixels, size_t row_stride, int32_t x, int32_t y,
                         int32_t width, int32_t height, cic_jpeg_image *info) {
    struct jpeg_decompress_struct *cinfo = &decoder->cinfo;
    decoder->progress.message = info->message;
    uint8_t *volatile band = NULL;  // freed on every path, including a longjmp out of libjpeg
    if (setjmp(decoder->errors.escape)) {
        free(band);
        return escaped(decoder, info->message);
    }
    if (x < 0 || y < 0 || width <= 0 || height <= 0 || (JDIMENSION)(x + width) > cinfo->image_width ||
        (JDIMENSION)(y + height) > cinfo->image_height) {
        cic_set_message(info->message, "window outside the image");
        return CIC_CORRUPT;
    }
    jpeg_start_decompress(cinfo);
    if (cinfo->output_components != cinfo->num_components || cinfo->output_width != cinfo->image_width ||
        cinfo->output_height != cinfo->image_height) {
        cic_set_message(info->message, "unexpected decoder output layout");
        return CIC_UNSUPPORTED;
    }
    int components = cinfo->output_components;
    JDIMENSION left = x > CIC_JPEG_WINDOW_MARGIN ? (JDIMENSION)x - CIC_JPEG_WINDOW_MARGIN : 0;
    JDIMENSION right = (JDIMENSION)(x + width) + CIC_JPEG_WINDOW_MARGIN;
    if (right > cinfo->image_width) right = cinfo->image_width;
    JDIMENSION crop_x = left, crop_width = right - left;
    if (crop_x > 0 || crop_width < cinfo->image_width) jpeg_crop_scanline(cinfo, &crop_x, &crop_width);
    // After cropping, output rows hold columns crop_x ..< crop_x + crop_width (crop_x <= left).
    size_t band_stride = (size_t)cinfo->output_width * (size_t)components;
    JDIMENSION first = y > CIC_JPEG_WINDOW_MARGIN ? (JDIMENSION)y - CIC_JPEG_WINDOW_MARGIN : 0;
    JDIMENSION last = (JDIMENSION)(y + height);  // exclusive
    if (first > 0) jpeg_skip_scanlines(cinfo, first);
    band = malloc(band_stride * 16);
    if (!band) return CIC_NO_MEMORY;
    while (cinfo->output_scanline < last) {
        JSAMPROW rows[16];
        JDIMENSION start = cinfo->output_scanline, count = 0;
        while (count < 16 && start + count < last) { rows[count] = band + band_stride * count; count++; }
        JDIMENSION got = jpeg_read_scanlines(cinfo, rows, count);
        if (got == 0) {
            free(band);
            band = NULL;
            cic_set_message(info->message, "decoder made no progress");
            return CIC_CORRUPT;
        }
        for (JDIMENSION r = 0; r < got; r++) {
            JDIMENSION row = start + r;
            if (row < (JDIMENSION)y) continue;
            memcpy(pixels + (size_t)(row - (JDIMENSION)y) * row_stride,
                   band + band_stride * r + (size_t)((JDIMENSION)x - crop_x) * (size_t)components,
                   (size_t)width * (size_t)components);
        }
    }
    // The rest of the stream is still read, so truncation shows as in a full decode: rows are skipped (not
    // converted) up to the last one, which is read (libjpeg-turbo's skip to the very end stops reading input).
    JDIMENSION remaining = cinfo->output_height - cinfo->output_scanline;
    if (remaining > 1) jpeg_skip_scanlines(cinfo, remaining - 1);
    if (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = band;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            free(band);
            band = NULL;
            cic_set_message(info->message, "decoder made no progress");
            return CIC_CORRUPT;
        }
    }
    free(band);
    band = NULL;
    return finish_reading(decoder, info);
}
