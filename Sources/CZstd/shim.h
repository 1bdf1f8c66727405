// Zstandard (Debian: libzstd-dev; macOS: brew install zstd), for Parquet ZSTD pages.
#include <zstd.h>
