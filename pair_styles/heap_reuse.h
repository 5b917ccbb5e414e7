#ifndef LMP_BENCH_HEAP_REUSE_H
#define LMP_BENCH_HEAP_REUSE_H

#include <string>

namespace lmp_bench {

// A model call allocates and frees the same tensors every step. With glibc's defaults, blocks
// over its mmap threshold (128 KiB, raised as they are freed) come from fresh mmap and go back
// to the kernel when freed, and memory freed at the top of the heap is handed back (trimmed):
// every step then page-faults its tensors in again, and the kernel's page-fault path is shared
// by the ranks of a node. So the process keeps freed memory for the next step: blocks up to
// 1 GiB from the heap, no trimming (the peak memory of a step is unchanged; it is just not
// handed back between steps). Measured in README ("Memory between steps"). Left alone when the user
// set glibc's malloc tunables, or where the C library is not glibc (for example jemalloc or
// tcmalloc preloaded: glibc's settings then have no effect on the model's memory).
// Once per process; returns what it did, for the log.
std::string reuse_freed_memory();

}    // namespace lmp_bench

#endif
