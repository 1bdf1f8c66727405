// libcurl (Debian: libcurl4-openssl-dev), for DeepfakeCore's HTTP client. curl_easy_setopt and
// curl_easy_getinfo are variadic, which Swift cannot call: these typed wrappers stand in for them.
#include <curl/curl.h>

typedef size_t (*deepfake_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode deepfake_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode deepfake_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode deepfake_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode deepfake_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode deepfake_curl_set_callback(CURL *handle, CURLoption option, deepfake_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

typedef int (*deepfake_curl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                               curl_off_t ulnow);

static inline CURLcode deepfake_curl_set_progress(CURL *handle, deepfake_curl_progress_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}
