// WebP through libwebp. Pillow decodes every WebP file through WebPAnimDecoder in RGBA mode and
// convert("RGB") drops the alpha; libwebp's RGB output has the same colour samples, so the
// image is decoded straight to RGB. For an animation, the first frame is drawn onto a canvas
// cleared to (transparent) black, as WebPAnimDecoder does for its first (key) frame: the ANMF
// chunk is located here and its payload (ALPH + VP8/VP8L) decoded into the frame rectangle, so
// libwebpdemux is not needed.
#include "codecs.h"
#include "shim_internal.h"

#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

static uint32_t le24(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16); }

static uint32_t le32(const uint8_t *p) { return le24(p) | ((uint32_t)p[3] << 24); }

static int status_of(VP8StatusCode code) {
    switch (code) {
        case VP8_STATUS_OK: return CIC_OK;
        case VP8_STATUS_NOT_ENOUGH_DATA: return CIC_TRUNCATED;
        case VP8_STATUS_OUT_OF_MEMORY: return CIC_NO_MEMORY;
        case VP8_STATUS_UNSUPPORTED_FEATURE: return CIC_UNSUPPORTED;
        default: return CIC_CORRUPT;
    }
}

static const char *describe(VP8StatusCode code) {
    switch (code) {
        case VP8_STATUS_NOT_ENOUGH_DATA: return "the data ends before the image does";
        case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
        case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
        case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
        case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
        // Outside incremental decoding, libwebp says "suspended" when the bitstream runs out mid-image.
        case VP8_STATUS_SUSPENDED: return "the image data ends before the image does (the file is truncated or corrupt)";
        case VP8_STATUS_USER_ABORT: return "aborted";
        default: return "decoding failed";
    }
}

// Decodes a bitstream (RIFF file or bare ALPH/VP8/VP8L chunks) into an external buffer.
static VP8StatusCode decode_into(const uint8_t *data, size_t size, WEBP_CSP_MODE mode, uint8_t *pixels,
                                 int stride, size_t capacity) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return VP8_STATUS_INVALID_PARAM;
    config.output.colorspace = mode;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = pixels;
    config.output.u.RGBA.stride = stride;
    config.output.u.RGBA.size = capacity;
    VP8StatusCode status = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    return status;
}

// Finds the payload of the first ANMF chunk of a RIFF WebP file.
static int first_frame(const uint8_t *data, size_t size, const uint8_t **frame, size_t *frame_size) {
    if (size < 12) return 0;
    size_t end = (size_t)le32(data + 4) + 8;
    if (end > size) end = size;
    size_t position = 12;
    while (position + 8 <= end) {
        size_t length = le32(data + position + 4);
        const uint8_t *payload = data + position + 8;
        size_t available = end - position - 8;
        if (memcmp(data + position, "ANMF", 4) == 0) {
            *frame = payload;
            *frame_size = length < available ? length : available;
            return 1;
        }
        if (length > available) return 0;
        position += 8 + length + (length & 1);
    }
    return 0;
}

// The first ANMF frame's rectangle and payload; 0 when the animation has no usable frame.
static int first_frame_layout(const uint8_t *data, size_t size, const cic_webp_image *info, int32_t *x,
                              int32_t *y, int32_t *width, int32_t *height, const uint8_t **payload,
                              size_t *payload_size) {
    const uint8_t *frame = NULL;
    size_t frame_size = 0;
    if (!first_frame(data, size, &frame, &frame_size) || frame_size < 16) return 0;
    *x = 2 * (int32_t)le24(frame);
    *y = 2 * (int32_t)le24(frame + 3);
    *width = (int32_t)le24(frame + 6) + 1;
    *height = (int32_t)le24(frame + 9) + 1;
    if (*x + *width > info->width || *y + *height > info->height) return 0;
    *payload = frame + 16;
    *payload_size = frame_size - 16;
    return 1;
}

int cic_webp_info(const uint8_t *data, size_t size, int64_t max_pixels, cic_webp_image *out) {
    memset(out, 0, sizeof(*out));
    WebPBitstreamFeatures features;
    VP8StatusCode code = WebPGetFeatures(data, size, &features);
    if (code != VP8_STATUS_OK) {
        cic_set_message(out->message, "%s", describe(code));
        return status_of(code);
    }
    out->width = features.width;
    out->height = features.height;
    out->has_alpha = features.has_alpha;
    out->animated = features.has_animation;
    if (cic_too_large(features.width, features.height, max_pixels)) return CIC_TOO_LARGE;
    if (features.width <= 0 || features.height <= 0) {
        cic_set_message(out->message, "empty canvas");
        return CIC_CORRUPT;
    }
    return CIC_OK;
}

int cic_webp_decode_rgb(const uint8_t *data, size_t size, uint8_t *pixels, cic_webp_image *info) {
    const int stride = info->width * 3;
    const size_t capacity = (size_t)stride * (size_t)info->height;
    VP8StatusCode code;
    if (!info->animated) {
        code = decode_into(data, size, MODE_RGB, pixels, stride, capacity);
    } else {
        int32_t x = 0, y = 0, width = 0, height = 0;
        const uint8_t *payload = NULL;
        size_t payload_size = 0;
        if (!first_frame_layout(data, size, info, &x, &y, &width, &height, &payload, &payload_size)) {
            cic_set_message(info->message, "animation without a readable first frame inside the canvas");
            return CIC_CORRUPT;
        }
        // Frame 1 is a key frame: drawn onto a cleared canvas without blending.
        memset(pixels, 0, capacity);
        WebPBitstreamFeatures frame;
        code = WebPGetFeatures(payload, payload_size, &frame);
        if (code == VP8_STATUS_OK && (frame.width != width || frame.height != height)) {
            code = VP8_STATUS_BITSTREAM_ERROR;
        }
        if (code == VP8_STATUS_OK) {
            uint8_t *origin = pixels + (size_t)y * (size_t)stride + (size_t)x * 3;
            code = decode_into(payload, payload_size, MODE_RGB, origin, stride, capacity - (size_t)(origin - pixels));
        }
    }
    if (code != VP8_STATUS_OK) {
        cic_set_message(info->message, "%s", describe(code));
        return status_of(code);
    }
    return CIC_OK;
}
