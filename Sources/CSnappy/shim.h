// Snappy's C API (Debian: libsnappy-dev; macOS: brew install snappy), for Parquet SNAPPY pages.
#include <snappy-c.h>
