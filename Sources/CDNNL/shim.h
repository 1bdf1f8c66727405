// oneDNN's row-major SGEMM (Debian: libdnnl-dev), built on the OpenMP runtime, and the OpenMP call that
// keeps each calling thread's products single-threaded (we split work over cores ourselves).
#include <oneapi/dnnl/dnnl.h>
void omp_set_num_threads(int num_threads);
