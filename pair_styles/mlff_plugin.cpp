// Registers pair_style mlff with LAMMPS when the shared library is loaded.
#include "lammpsplugin_abi.h"

#include "lammps.h"
#include "command.h"
#include "pair_mlff.h"

using namespace LAMMPS_NS;

static Pair *create_pair_mlff(LAMMPS *lmp)
{
  return new PairMLFF(lmp);
}

namespace LAMMPS_NS {
Command *create_mlff_halo_check(LAMMPS *lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lmp_bench_plugin_t plugin;
  auto register_style = (lmp_bench_plugin_regfunc) regfunc;
  plugin.version = static_cast<LAMMPS *>(lmp)->version;
  plugin.style = "pair";
  plugin.name = "mlff";
  plugin.info = "lmp-bench pair style mlff: exported PyTorch models (AOTInductor .pt2, TorchScript)";
  plugin.author = "lmp-bench developers";
  plugin.creator.v1 = (lmp_bench_plugin_factory1 *) &create_pair_mlff;
  plugin.handle = handle;
  (*register_style)(&plugin, lmp);

  plugin.style = "command";
  plugin.name = "mlff_halo_check";
  plugin.info = "lmp-bench: check that pair_style mlff's halo exchange is exact";
  plugin.creator.v1 = (lmp_bench_plugin_factory1 *) &create_mlff_halo_check;
  (*register_style)(&plugin, lmp);
}
