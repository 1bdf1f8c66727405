// libcurl (Debian: libcurl4-openssl-dev), for the Hub client's HTTP transfers. curl_easy_setopt and
// curl_easy_getinfo are variadic, which Swift cannot call: these typed wrappers stand in for them.
#include <curl/curl.h>

typedef size_t (*hub_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode hub_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode hub_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode hub_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode hub_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode hub_curl_set_callback(CURL *handle, CURLoption option, hub_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
