// zlib (Debian: zlib1g-dev; macOS: the SDK's libz), for reading compressed joblib files.
#include <zlib.h>
