// pair_style mlff for files made by `nequip-compile --mode aotinductor --target pair_nequip`.
//
// nequip's documented convention: inputs pos (N,3), edge_index (2,E) [centre, neighbour],
// atom_types (N,), cell (1,3,3) with lattice vectors as rows, edge_cell_shift (E,3) in
// lattice units (edge vector = pos[j] - pos[i] + shift @ cell); outputs atomic_energy (N,1),
// forces (N,3) = -dE_total/dpos, virial (1,3,3) (the ase target gives stress instead, which
// with a unit-volume cell is -virial). All float64 in, whatever the model dtype (nequip
// turns float32 positions into NaN forces silently).
//
// The model returns forces of the *total* energy, so it must see the whole periodic system
// once: every rank gathers all owned atoms (IDs, types, positions), contributes the edges of
// its own atoms, and evaluates the complete graph; each rank keeps its atoms' forces and
// energies. The cell is passed as the identity and the shifts in Angstrom, which gives the
// same edge vectors (and the same virial, as the strain acts on pos and cell alike).
// Ranks do not share the model's work in this mode (see README.md).
#include "pair_mlff.h"

#include "model_file.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "memory.h"
#include "update.h"

#include <mpi.h>

#include <algorithm>

using namespace LAMMPS_NS;

namespace {

enum NequipInput { kPos, kEdgeIndex, kAtomTypes, kCell, kEdgeCellShift };

}    // namespace

void PairMLFF::load_nequip(const std::string &path)
{
  const std::map<std::string, int> slots{{"pos", kPos},
                                         {"edge_index", kEdgeIndex},
                                         {"atom_types", kAtomTypes},
                                         {"cell", kCell},
                                         {"edge_cell_shift", kEdgeCellShift}};
  nequip_input_order.clear();
  for (const auto &name : lmp_bench::split_words(model->require("nequip_aoti_inputs"))) {
    auto found = slots.find(name);
    if (found == slots.end())
      error->all(FLERR, "nequip model {} asks for input '{}': pair_style mlff feeds nequip's "
                        "pair_nequip and ase targets only (recompile with `nequip-compile ... "
                        "--target pair_nequip`)",
                 path, name);
    nequip_input_order.push_back(found->second);
  }
  auto outputs = lmp_bench::split_words(model->require("nequip_aoti_outputs"));
  auto slot_of = [&](const std::string &name) {
    auto found = std::find(outputs.begin(), outputs.end(), name);
    if (found == outputs.end())
      error->all(FLERR, "nequip model {} has no '{}' output (it has: {}): compile it with "
                        "`nequip-compile ... --target pair_nequip`",
                 path, name, model->require("nequip_aoti_outputs"));
    return static_cast<int>(found - outputs.begin());
  };
  nequip_energy_out = slot_of("atomic_energy");
  nequip_force_out = slot_of("forces");
  // pair_nequip target: virial; ase target: stress = -virial / volume (volume 1 here)
  nequip_stress = std::count(outputs.begin(), outputs.end(), "virial") == 0;
  nequip_virial_out = slot_of(nequip_stress ? "stress" : "virial");
  if (std::string(update->unit_style) != "metal")
    error->all(FLERR, "nequip model {} is used with 'units {}': lmp-bench's nequip models are "
                      "trained on eV and Angstrom, so the input needs 'units metal'",
               path, update->unit_style);
  model_cutoff = std::stod(model->require("r_max"));
  species = lmp_bench::split_words(model->require("type_names"));
  message_passing_layers = 1;    // the gathered graph needs ghosts to one cutoff only
  conservative = true;
  owner_graph = false;
  ghostneigh = 0;
  no_virial_fdotr_compute = 1;    // the virial comes from the model
  model_path = path;
  if (comm->me == 0)
    error->warning(FLERR, "nequip model {} returns the system's virial only: pressure and fix "
                          "npt are right, but compute stress/atom gets no contribution from it",
                   path);
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "pair mlff: nequip model {} on {} ({}, cutoff {} A, species {}); the whole "
                   "system is evaluated on rank 0 of {} rank(s), which hands each rank its atoms' rows\n",
                   path, model->device().str(), model->require("model_dtype"), model_cutoff,
                   model->require("type_names"), comm->nprocs);
}

void PairMLFF::compute_nequip()
{
  gather_system();
  torch::Tensor edge_index, edge_shift;
  gather_edges(edge_index, edge_shift);
  const int64_t natoms = static_cast<int64_t>(all_tags.size());
  std::vector<double> all_rows;    // rank 0: energy and force of every atom
  if (comm->me == 0) {
    auto device = model->device();
    std::vector<torch::Tensor> by_slot(5);
    by_slot[kPos] = torch::from_blob(all_x.data(), {natoms, 3}, torch::kFloat64).to(device);
    by_slot[kEdgeIndex] = edge_index.to(device);
    by_slot[kAtomTypes] = torch::from_blob(all_types.data(), {natoms}, torch::kInt64).to(device);
    by_slot[kCell] = torch::eye(3, torch::kFloat64).view({1, 3, 3}).to(device);
    by_slot[kEdgeCellShift] = edge_shift.to(device);
    std::vector<torch::Tensor> inputs;
    for (int slot : nequip_input_order) inputs.push_back(by_slot[slot]);

    auto outputs = run_timed(inputs);
    auto energies = outputs.at(nequip_energy_out).to(torch::kCPU, torch::kFloat64).reshape({natoms, 1});
    auto forces = outputs.at(nequip_force_out).to(torch::kCPU, torch::kFloat64);
    auto rows = torch::cat({energies, forces}, 1).contiguous();
    all_rows.assign(rows.data_ptr<double>(), rows.data_ptr<double>() + 4 * natoms);
    if (vflag_global) {    // one copy of the whole system's virial
      auto w = outputs.at(nequip_virial_out).to(torch::kCPU, torch::kFloat64).contiguous();
      const double *v = w.data_ptr<double>();    // (3,3) row-major
      const double sign = nequip_stress ? -1.0 : 1.0;
      const int order[6] = {0, 4, 8, 1, 2, 5};    // LAMMPS: xx yy zz xy xz yz
      for (int k = 0; k < 6; k++) virial[k] += sign * v[order[k]];
    }
  }
  add_gathered_rows(scatter_rows(all_rows, 4), 4);    // energy and force; no per-atom virial
}
