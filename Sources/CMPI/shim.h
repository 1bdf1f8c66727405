// The MPI library (Debian: libopenmpi-dev; another with DEEPFAKE_MPI, see Package.swift: its pkg-config file
// names the library to link) behind a few functions on plain C types. Swift cannot import what mpi.h defines
// as macros (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE: casts of addresses in Open MPI, integers in
// MPICH), and the handle types differ between implementations; here a handle travels inside a one-field struct
// that Swift only passes along.
// Every function returns MPI's error code (MPI_SUCCESS, 0, when it worked).
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { MPI_Comm handle; } dfmpi_comm;
typedef struct { MPI_Request handle; } dfmpi_request;

// Element types of the buffers.
#define DFMPI_FLOAT 0
#define DFMPI_DOUBLE 1
#define DFMPI_BYTE 2

static inline MPI_Datatype dfmpi_datatype(int type) {
    switch (type) {
    case DFMPI_FLOAT: return MPI_FLOAT;
    case DFMPI_DOUBLE: return MPI_DOUBLE;
    default: return MPI_BYTE;
    }
}

static inline int dfmpi_state(int *initialized, int *finalized) {
    int code = MPI_Initialized(initialized);
    return code != MPI_SUCCESS ? code : MPI_Finalized(finalized);
}

// MPI_Init_thread asking for MPI_THREAD_MULTIPLE; *multiple is 1 when it was granted.
static inline int dfmpi_init(int *multiple) {
    int provided = MPI_THREAD_SINGLE;
    int code = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
    *multiple = provided >= MPI_THREAD_MULTIPLE;
    return code;
}

// A copy of MPI_COMM_WORLD whose errors are returned instead of ending the process, and this rank's place in
// it and among the ranks of its host (the ranks that share memory with it).
static inline int dfmpi_world(dfmpi_comm *comm, int *rank, int *size, int *local_rank, int *local_size) {
    int code = MPI_Comm_dup(MPI_COMM_WORLD, &comm->handle);
    if (code == MPI_SUCCESS) code = MPI_Comm_set_errhandler(comm->handle, MPI_ERRORS_RETURN);
    if (code == MPI_SUCCESS) code = MPI_Comm_rank(comm->handle, rank);
    if (code == MPI_SUCCESS) code = MPI_Comm_size(comm->handle, size);
    if (code != MPI_SUCCESS) return code;
    MPI_Comm local;
    code = MPI_Comm_split_type(comm->handle, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &local);
    if (code != MPI_SUCCESS) return code;
    code = MPI_Comm_rank(local, local_rank);
    if (code == MPI_SUCCESS) code = MPI_Comm_size(local, local_size);
    MPI_Comm_free(&local);
    return code;
}

static inline int dfmpi_allreduce_sum(dfmpi_comm comm, void *buffer, int count, int type) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, dfmpi_datatype(type), MPI_SUM, comm.handle);
}

static inline int dfmpi_iallreduce_sum(dfmpi_comm comm, void *buffer, int count, int type, dfmpi_request *request) {
    return MPI_Iallreduce(MPI_IN_PLACE, buffer, count, dfmpi_datatype(type), MPI_SUM, comm.handle, &request->handle);
}

static inline int dfmpi_testall(int count, dfmpi_request *requests, int *done) {
    return MPI_Testall(count, (MPI_Request *)requests, done, MPI_STATUSES_IGNORE);
}

static inline int dfmpi_waitall(int count, dfmpi_request *requests) {
    return MPI_Waitall(count, (MPI_Request *)requests, MPI_STATUSES_IGNORE);
}

static inline int dfmpi_bcast(dfmpi_comm comm, void *buffer, int count, int type, int root) {
    return MPI_Bcast(buffer, count, dfmpi_datatype(type), root, comm.handle);
}

// Every rank's `value`, in rank order, into `values` (one per rank).
static inline int dfmpi_allgather_int64(dfmpi_comm comm, int64_t value, int64_t *values) {
    return MPI_Allgather(&value, 1, MPI_INT64_T, values, 1, MPI_INT64_T, comm.handle);
}

static inline int dfmpi_allgatherv_bytes(dfmpi_comm comm, const void *bytes, int count, void *all,
                                         const int *counts, const int *offsets) {
    return MPI_Allgatherv(bytes, count, MPI_BYTE, all, counts, offsets, MPI_BYTE, comm.handle);
}

static inline int dfmpi_barrier(dfmpi_comm comm) { return MPI_Barrier(comm.handle); }

static inline int dfmpi_comm_free(dfmpi_comm *comm) { return MPI_Comm_free(&comm->handle); }

static inline int dfmpi_finalize(void) { return MPI_Finalize(); }

static inline int dfmpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

static inline int dfmpi_world_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }

// MPI's text for error `code`, into `text` (`capacity` bytes, NUL-terminated).
static inline void dfmpi_error_text(int code, char *text, int capacity) {
    char message[MPI_MAX_ERROR_STRING + 1];
    int length = 0;
    if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
    if (length > capacity - 1) length = capacity - 1;
    for (int i = 0; i < length; i++) text[i] = message[i];
    text[length < 0 ? 0 : length] = 0;
}
