// GIF through giflib: the logical screen, the palettes, the first frame's rectangle and its
// palette indices (de-interlaced), and the transparent index from a graphic control extension
// that precedes the first image. Building the Pillow-shaped image (canvas size, fill outside
// the frame, P versus L) is left to Swift.
#include "codecs.h"
#include "shim_internal.h"

#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    int ran_out;
    int pad_with_zeros;  // serve zero bytes past the end (a missing block terminator)
} cic_gif_reader;

static int gif_read_from_memory(GifFileType *gif, GifByteType *destination, int count) {
    cic_gif_reader *reader = (cic_gif_reader *)gif->UserData;
    size_t available = reader->size - reader->position;
    if (count < 0) return 0;
    if ((size_t)count > available) {
        reader->ran_out = 1;
        if (reader->pad_with_zeros) {
            memcpy(destination, reader->data + reader->position, available);
            memset(destination + available, 0, (size_t)count - available);
            reader->position = reader->size;
            return count;
        }
        count = (int)available;
    }
    memcpy(destination, reader->data + reader->position, (size_t)count);
    reader->position += (size_t)count;
    return count;
}

static int copy_color_map(const ColorMapObject *map, uint8_t *palette) {
    if (!map || !map->Colors || map->ColorCount <= 0) return 0;
    int count = map->ColorCount > 256 ? 256 : map->ColorCount;
    for (int i = 0; i < count; i++) {
        palette[3 * i] = map->Colors[i].Red;
        palette[3 * i + 1] = map->Colors[i].Green;
        palette[3 * i + 2] = map->Colors[i].Blue;
    }
    return count;
}

static int gif_failure(GifFileType *gif, const cic_gif_reader *reader, cic_gif_image *out, int error) {
    const char *text = GifErrorString(error);
    cic_set_message(out->message, "%s", text ? text : "GIF decoding failed");
    if (gif) DGifCloseFile(gif, NULL);
    free(out->pixels);
    out->pixels = NULL;
    // An LZW end code before the frame is full is what Pillow reports as a truncated file too.
    return reader->ran_out || error == D_GIF_ERR_EOF_TOO_SOON ? CIC_TRUNCATED : CIC_CORRUPT;
}

// Whether the image data sub-blocks starting at `position` are all complete but the data ends
// before their zero-length terminator. Pillow decodes such files (it stops once the frame is
// full); giflib wants the terminator after the last row, so the reader then supplies it.
static int blocks_end_unterminated(const uint8_t *data, size_t size, size_t position) {
    while (position < size) {
        size_t length = data[position];
        if (length == 0) return 0;
        if (length > size - position - 1) return 0;
        position += 1 + length;
    }
    return 1;
}

// Rows of an interlaced frame arrive in four passes: every 8th row from 0, every 8th from 4,
// every 4th from 2, every 2nd from 1.
static int32_t interlaced_row(int32_t index, int32_t height) {
    static const int32_t start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; pass++) {
        int32_t rows = start[pass] < height ? (height - start[pass] + step[pass] - 1) / step[pass] : 0;
        if (index < rows) return start[pass] + index * step[pass];
        index -= rows;
    }
    return -1;
}

int cic_gif_decode(const uint8_t *data, size_t size, int64_t max_pixels, const cic_memory_gate *gate, cic_gif_image *out) {
    memset(out, 0, sizeof(*out));
    out->transparency = -1;
    cic_gif_reader reader = {data, size, 0, 0, 0};
    int error = 0;
    GifFileType *gif = DGifOpen(&reader, gif_read_from_memory, &error);
    if (!gif) return gif_failure(NULL, &reader, out, error);

    out->screen_width = gif->SWidth;
    out->screen_height = gif->SHeight;
    out->background = gif->SBackGroundColor;
    out->global_count = copy_color_map(gif->SColorMap, out->global_palette);

    for (;;) {
        GifRecordType record;
        if (DGifGetRecordType(gif, &record) == GIF_ERROR) return gif_failure(gif, &reader, out, gif->Error);
        if (record == EXTENSION_RECORD_TYPE) {
            int code = 0;
            GifByteType *block = NULL;
            if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) return gif_failure(gif, &reader, out, gif->Error);
            if (code == GRAPHICS_EXT_FUNC_CODE && block && block[0] >= 4 && (block[1] & 1)) {
                out->transparency = block[4];
            }
            while (block) {
                if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return gif_failure(gif, &reader, out, gif->Error);
            }
        } else if (record == IMAGE_DESC_RECORD_TYPE) {
            // The frame rectangle is read from the raw descriptor and the canvas size checked before giflib
            // reads any further, as Pillow checks it before reading the frame's data.
            if (reader.size - reader.position >= 8) {
                const uint8_t *d = data + reader.position;
                out->left = d[0] | d[1] << 8;
                out->top = d[2] | d[3] << 8;
                out->width = d[4] | d[5] << 8;
                out->height = d[6] | d[7] << 8;
                int64_t canvas_width = (int64_t)out->left + out->width;
                int64_t canvas_height = (int64_t)out->top + out->height;
                if (canvas_width < gif->SWidth) canvas_width = gif->SWidth;
                if (canvas_height < gif->SHeight) canvas_height = gif->SHeight;
                if (cic_too_large(canvas_width, canvas_height, max_pixels)) {
                    DGifCloseFile(gif, NULL);
                    return CIC_TOO_LARGE;
                }
            }
            if (DGifGetImageDesc(gif) == GIF_ERROR) return gif_failure(gif, &reader, out, gif->Error);
            const GifImageDesc *desc = &gif->Image;
            out->left = desc->Left;
            out->top = desc->Top;
            out->width = desc->Width;
            out->height = desc->Height;
            out->interlaced = desc->Interlace ? 1 : 0;
            out->local_count = copy_color_map(desc->ColorMap, out->local_palette);
            // giflib has read the LZW code size: the reader now stands at the first data sub-block.
            reader.pad_with_zeros = blocks_end_unterminated(data, size, reader.position);
            // The canvas the frame is drawn on (at most 131070 pixels a side: the sizes are 16-bit).
            int32_t canvas_width = desc->Left + desc->Width, canvas_height = desc->Top + desc->Height;
            if (canvas_width < gif->SWidth) canvas_width = gif->SWidth;
            if (canvas_height < gif->SHeight) canvas_height = gif->SHeight;
            if (gate && !gate->reserve(gate->context, (int64_t)desc->Width * desc->Height, canvas_width, canvas_height)) {
                DGifCloseFile(gif, NULL);
                return CIC_REFUSED;
            }
            out->pixels = cic_alloc((int64_t)desc->Width * desc->Height, 1);
            if (!out->pixels) {
                DGifCloseFile(gif, NULL);
                return CIC_NO_MEMORY;
            }
            const int32_t rows_to_read = desc->Width > 0 ? desc->Height : 0;
            for (int32_t i = 0; i < rows_to_read; i++) {
                int32_t y = desc->Interlace ? interlaced_row(i, desc->Height) : i;
                if (DGifGetLine(gif, out->pixels + (size_t)y * (size_t)desc->Width, desc->Width) == GIF_ERROR) {
                    return gif_failure(gif, &reader, out, gif->Error);
                }
            }
            DGifCloseFile(gif, NULL);
            return CIC_OK;
        } else if (record == TERMINATE_RECORD_TYPE) {
            cic_set_message(out->message, "image not found in GIF file");
            DGifCloseFile(gif, NULL);
            return reader.ran_out ? CIC_TRUNCATED : CIC_CORRUPT;
        } else {
            cic_set_message(out->message, "unknown GIF record");
            DGifCloseFile(gif, NULL);
            return reader.ran_out ? CIC_TRUNCATED : CIC_CORRUPT;
        }
    }
}
