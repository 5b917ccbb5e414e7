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
#include "neigh_list.h"
#include "update.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>

using namespace LAMMPS_NS;

namespace {

enum NequipInput { kPos, kEdgeIndex, kAtomTypes, kCell, kEdgeCellShift };

// Counts and displacements for MPI_Allgatherv of `count` items per rank, both for one
// value per item and for three (coordinates, shifts); one MPI_Allgather of the counts.
int64_t gather_layout(MPI_Comm world, int64_t count, std::vector<int> &counts,
                      std::vector<int> &displs, std::vector<int> &counts3,
                      std::vector<int> &displs3)
{
  int nprocs = 0;
  MPI_Comm_size(world, &nprocs);
  std::vector<int64_t> all(nprocs);
  MPI_Allgather(&count, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, world);
  counts.resize(nprocs);
  displs.resize(nprocs);
  counts3.resize(nprocs);
  displs3.resize(nprocs);
  int64_t total = 0;
  for (int r = 0; r < nprocs; r++) {
    counts[r] = static_cast<int>(all[r]);
    displs[r] = static_cast<int>(total);
    counts3[r] = 3 * counts[r];
    displs3[r] = 3 * displs[r];
    total += all[r];
  }
  return total;
}

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
                   "system is evaluated on each of {} rank(s)\n",
                   path, model->device().str(), model->require("model_dtype"), model_cutoff,
                   model->require("type_names"), comm->nprocs);
}

// All owned atoms of all ranks, in rank order: IDs, model species, positions.
void PairMLFF::gather_system()
{
  const int nlocal = atom->nlocal;
  std::vector<int64_t> my_tags(nlocal), my_types(nlocal);
  for (int i = 0; i < nlocal; i++) {
    my_tags[i] = atom->tag[i];
    my_types[i] = type_to_species[atom->type[i]];
  }
  std::vector<int> counts, displs, counts3, displs3;
  const int64_t natoms = gather_layout(world, nlocal, counts, displs, counts3, displs3);
  all_tags.resize(natoms);
  all_types.resize(natoms);
  MPI_Allgatherv(my_tags.data(), nlocal, MPI_INT64_T, all_tags.data(), counts.data(),
                 displs.data(), MPI_INT64_T, world);
  MPI_Allgatherv(my_types.data(), nlocal, MPI_INT64_T, all_types.data(), counts.data(),
                 displs.data(), MPI_INT64_T, world);
  all_x.resize(3 * natoms);
  MPI_Allgatherv(atom->x[0], 3 * nlocal, MPI_DOUBLE, all_x.data(), counts3.data(),
                 displs3.data(), MPI_DOUBLE, world);
  const int64_t max_tag = natoms ? *std::max_element(all_tags.begin(), all_tags.end()) : 0;
  index_of_tag.assign(max_tag + 1, -1);
  for (int64_t k = 0; k < natoms; k++) index_of_tag[all_tags[k]] = k;
}

void PairMLFF::compute_nequip()
{
  gather_system();
  const int64_t natoms = static_cast<int64_t>(all_tags.size());
  const int nlocal = atom->nlocal;
  const double *x = atom->x[0];
  const tagint *tag = atom->tag;
  const double cutoff_sq = model_cutoff * model_cutoff;

  // this rank's edges, in global atom indices, with Cartesian image shifts
  std::vector<int64_t> my_src, my_dst;
  std::vector<double> my_shift;
  for (int ii = 0; ii < list->inum; ii++) {
    const int i = list->ilist[ii];
    const int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const double d[3] = {x[3 * j] - x[3 * i], x[3 * j + 1] - x[3 * i + 1],
                           x[3 * j + 2] - x[3 * i + 2]};
      if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] >= cutoff_sq) continue;
      const int64_t owner = tag[j] < static_cast<tagint>(index_of_tag.size())
          ? index_of_tag[tag[j]]
          : -1;
      if (owner < 0)
        error->one(FLERR, "pair mlff: neighbour atom ID {} is owned by no rank", tag[j]);
      my_src.push_back(index_of_tag[tag[i]]);
      my_dst.push_back(owner);
      for (int k = 0; k < 3; k++) my_shift.push_back(x[3 * j + k] - all_x[3 * owner + k]);
    }
  }
  std::vector<int> counts, displs, counts3, displs3;
  const int64_t my_edges = static_cast<int64_t>(my_src.size());
  const int64_t nedges = gather_layout(world, my_edges, counts, displs, counts3, displs3);
  auto edge_index = torch::empty({2, nedges}, torch::kInt64);
  auto edge_shift = torch::empty({nedges, 3}, torch::kFloat64);
  MPI_Allgatherv(my_src.data(), static_cast<int>(my_edges), MPI_INT64_T,
                 edge_index.data_ptr<int64_t>(), counts.data(), displs.data(), MPI_INT64_T, world);
  MPI_Allgatherv(my_dst.data(), static_cast<int>(my_edges), MPI_INT64_T,
                 edge_index.data_ptr<int64_t>() + nedges, counts.data(), displs.data(),
                 MPI_INT64_T, world);
  MPI_Allgatherv(my_shift.data(), static_cast<int>(3 * my_edges), MPI_DOUBLE,
                 edge_shift.data_ptr<double>(), counts3.data(), displs3.data(), MPI_DOUBLE, world);

  auto device = model->device();
  std::vector<torch::Tensor> by_slot(5);
  by_slot[kPos] = torch::from_blob(all_x.data(), {natoms, 3}, torch::kFloat64).to(device);
  by_slot[kEdgeIndex] = edge_index.to(device);
  by_slot[kAtomTypes] = torch::from_blob(all_types.data(), {natoms}, torch::kInt64).to(device);
  by_slot[kCell] = torch::eye(3, torch::kFloat64).view({1, 3, 3}).to(device);
  by_slot[kEdgeCellShift] = edge_shift.to(device);
  std::vector<torch::Tensor> inputs;
  for (int slot : nequip_input_order) inputs.push_back(by_slot[slot]);

  auto model_start = std::chrono::steady_clock::now();
  auto outputs = model->run(inputs);
  model_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - model_start).count();
  model_calls++;
  auto energies = outputs.at(nequip_energy_out).to(torch::kCPU, torch::kFloat64).contiguous();
  auto forces = outputs.at(nequip_force_out).to(torch::kCPU, torch::kFloat64).contiguous();
  const double *e = energies.data_ptr<double>();
  const double *fm = forces.data_ptr<double>();

  double local_energy = 0.0, force_sum = 0.0;
  double **f = atom->f;
  for (int i = 0; i < nlocal; i++) {
    const int64_t k = index_of_tag[tag[i]];
    for (int d = 0; d < 3; d++) {
      f[i][d] += fm[3 * k + d];
      force_sum += fm[3 * k + d];
    }
    local_energy += e[k];
    if (eflag_atom) eatom[i] += e[k];
  }
  check_finite(local_energy, force_sum);
  if (eflag_global) eng_vdwl += local_energy;

  if (vflag_global && comm->me == 0) {    // one copy of the whole system's virial
    auto w = outputs.at(nequip_virial_out).to(torch::kCPU, torch::kFloat64).contiguous();
    const double *v = w.data_ptr<double>();    // (3,3) row-major
    const double sign = nequip_stress ? -1.0 : 1.0;
    const int order[6] = {0, 4, 8, 1, 2, 5};    // LAMMPS: xx yy zz xy xz yz
    for (int k = 0; k < 6; k++) virial[k] += sign * v[order[k]];
  }
}
