#include "heap_reuse.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lmp_bench {

std::string reuse_freed_memory()
{
  static const std::string done = [] {
#if defined(__GLIBC__)
    const char *tunables = std::getenv("GLIBC_TUNABLES");
    const bool users_own = (tunables && std::strstr(tunables, "glibc.malloc.")) ||
        std::getenv("MALLOC_TRIM_THRESHOLD_") || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
        std::getenv("MALLOC_MMAP_MAX_") || std::getenv("MALLOC_TOP_PAD_");
    if (users_own) return std::string("glibc malloc settings from the environment kept");
    int threshold_mib = 1024;
    if (!mallopt(M_MMAP_THRESHOLD, threshold_mib << 20)) {    // older glibc: at most 32 MiB
      threshold_mib = 32;
      mallopt(M_MMAP_THRESHOLD, threshold_mib << 20);
    }
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    return "freed memory kept for the next step (glibc malloc: blocks up to " +
        std::to_string(threshold_mib) + " MiB from the heap, heap not trimmed)";
#else
    return std::string("allocator left as it is (not glibc)");
#endif
  }();
  return done;
}

}    // namespace lmp_bench
