// A team of threads that run one function together, rank by rank, and can meet at barriers (ckernels.h).
// Workers are dedicated pthreads, so every rank of a run is live at once and a barrier cannot deadlock the
// way it could on a shared pool. Idle workers spin briefly for the next run (back-to-back batches), then
// sleep on a condition variable.
#include "ckernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct dfk_team {
    int size;
    pthread_t *threads;
    pthread_mutex_t run_lock;  // one run at a time
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    void (*fn)(void *, int);
    void *ctx;
    _Atomic unsigned generation;   // bumped once per run
    _Atomic int remaining;         // workers still inside the current run
    _Atomic int arrived;           // barrier: ranks arrived in this phase
    _Atomic unsigned phase;        // barrier: completed barriers
};

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

enum { SPINS = 20000 };  // ~50 µs of pause before a worker sleeps

struct start { dfk_team *team; int rank; };

static void *worker(void *arg) {
    struct start s = *(struct start *)arg;
    free(arg);
    dfk_team *t = s.team;
    unsigned seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&t->generation, memory_order_acquire) == seen) {
            if (++spins < SPINS) { relax(); continue; }
            pthread_mutex_lock(&t->lock);
            while (atomic_load_explicit(&t->generation, memory_order_acquire) == seen) pthread_cond_wait(&t->wake, &t->lock);
            pthread_mutex_unlock(&t->lock);
        }
        seen = atomic_load_explicit(&t->generation, memory_order_acquire);
        t->fn(t->ctx, s.rank);
        if (atomic_fetch_sub_explicit(&t->remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&t->lock);
            pthread_cond_signal(&t->done);
            pthread_mutex_unlock(&t->lock);
        }
    }
    return NULL;
}

dfk_team *dfk_team_create(int size) {
    if (size < 1) size = 1;
    dfk_team *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->size = size;
    pthread_mutex_init(&t->run_lock, NULL);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    pthread_cond_init(&t->done, NULL);
    t->threads = calloc((size_t)size, sizeof(pthread_t));
    for (int rank = 1; rank < size; rank++) {
        struct start *s = malloc(sizeof *s);
        s->team = t;
        s->rank = rank;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20);
        if (pthread_create(&t->threads[rank], &attr, worker, s) != 0) {  // fewer threads: shrink the team
            free(s);
            t->size = rank;
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
    }
    return t;
}

int dfk_team_size(const dfk_team *team) { return team->size; }

void dfk_team_run(dfk_team *t, void (*fn)(void *ctx, int rank), void *ctx) {
    if (t->size == 1) { fn(ctx, 0); return; }
    pthread_mutex_lock(&t->run_lock);
    pthread_mutex_lock(&t->lock);
    t->fn = fn;
    t->ctx = ctx;
    atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
    atomic_store_explicit(&t->remaining, t->size - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->generation, 1, memory_order_release);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    fn(ctx, 0);
    int spins = 0;
    while (atomic_load_explicit(&t->remaining, memory_order_acquire) != 0) {
        if (++spins < SPINS) { relax(); continue; }
        pthread_mutex_lock(&t->lock);
        while (atomic_load_explicit(&t->remaining, memory_order_acquire) != 0) pthread_cond_wait(&t->done, &t->lock);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&t->run_lock);
}

void dfk_team_barrier(dfk_team *t) {
    if (t->size == 1) return;
    unsigned phase = atomic_load_explicit(&t->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel) == t->size - 1) {
        atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->phase, 1, memory_order_release);
        return;
    }
    int spins = 0;
    while (atomic_load_explicit(&t->phase, memory_order_acquire) == phase) {
        if (++spins < 256) relax();
        else { sched_yield(); spins = 0; }  // the other ranks may share this core: let them run
    }
}

dfk_team *dfk_team_shared(int size) {
    enum { MAX = 512 };
    static dfk_team *teams[MAX + 1];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    if (size < 1) size = 1;
    if (size > MAX) size = MAX;
    pthread_mutex_lock(&lock);
    if (!teams[size]) teams[size] = dfk_team_create(size);
    dfk_team *t = teams[size];
    pthread_mutex_unlock(&lock);
    return t;
}
