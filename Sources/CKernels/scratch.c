// A small process-wide pool of float buffers (ckernels.h): hot paths borrow their workspace here instead
// of allocating (and page-faulting) megabytes on every call. Memory stays bounded by the number of
// concurrent borrowers.
#include "ckernels.h"

#include <pthread.h>
#include <stdlib.h>

enum { SLOTS = 16 };
static struct { float *data; size_t capacity; int busy; } pool[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

float *dfk_scratch_acquire(size_t count) {
    if (count == 0) count = 1;
    pthread_mutex_lock(&lock);
    int best = -1;  // the smallest free buffer that is large enough
    for (int i = 0; i < SLOTS; i++)
        if (!pool[i].busy && pool[i].capacity >= count && (best < 0 || pool[i].capacity < pool[best].capacity)) best = i;
    for (int i = 0; i < SLOTS && best < 0; i++)  // else any free slot, grown
        if (!pool[i].busy) best = i;
    float *result = NULL;
    if (best >= 0) {
        if (pool[best].capacity < count) {
            free(pool[best].data);
            pool[best].data = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
            pool[best].capacity = pool[best].data ? count : 0;
        }
        if (pool[best].data) { pool[best].busy = 1; result = pool[best].data; }
    }
    pthread_mutex_unlock(&lock);
    if (!result) result = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);  // pool exhausted: plain allocation
    return result;
}

void dfk_scratch_release(float *buffer) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < SLOTS; i++) {
        if (pool[i].data == buffer && pool[i].busy) { pool[i].busy = 0; pthread_mutex_unlock(&lock); return; }
    }
    pthread_mutex_unlock(&lock);
    free(buffer);
}
