// The gathered system: rank 0 evaluates the whole periodic system as one owner graph (all
// owned atoms of all ranks, ghosts folded onto their owners by image shifts) and hands each
// rank the rows of the atoms it owns: energies, forces, per-atom virials. A step costs what
// it costs on one rank, plus gathering positions and edges and scattering the rows; the
// other ranks wait (had they all evaluated the same graph, they would only have competed
// for memory bandwidth).
//
// Two users: nequip files (their forces are of the total energy; pair_mlff_nequip.cpp), and
// contract-2 models with several message-passing layers on several ranks when their ghost
// graph (ghosts out to layers x cutoff) would give each rank at least as many atoms as the
// whole system, which is the case for the benchmark's boxes. There the ghost graph makes
// more ranks slower than one.
#include "pair_mlff.h"

#include "model_file.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "neigh_list.h"
#include "neighbor.h"

#include <mpi.h>

#include <algorithm>
#include <cmath>

using namespace LAMMPS_NS;

namespace {

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

// Atoms one rank's ghost graph would hold (owned + ghosts out to layers x cutoff + skin),
// as a share of the whole system's atoms, at uniform density: the largest subdomain of the
// processor grid grown by the ghost shell, over the box (no growth past a non-periodic
// boundary).
double PairMLFF::ghost_graph_share() const
{
  const double shell = message_passing_layers * model_cutoff + neighbor->skin;
  double share = 1.0;
  for (int d = 0; d < 3; d++) {
    const double parts = processor_parts(d);
    const double box = domain->prd[d];
    double grown = box / parts + 2.0 * shell;
    if (!domain->periodicity[d]) grown = std::min(grown, box);
    share *= grown / box;
  }
  return share;
}

// An edge-state model (contract 3) on several ranks: each rank also evaluates the reverse
// of every edge to a ghost, which in a subdomain thinner than 2 x cutoff is most of its
// edges, so more ranks would be slower. There a package with a whole-model graph evaluates
// the gathered system instead (rank 0, exact, as fast as one rank); the log says which.
void PairMLFF::choose_edge_state_path()
{
  double thinnest = domain->prd[0] + domain->prd[1] + domain->prd[2];
  for (int d = 0; d < 3; d++) {
    const double parts = processor_parts(d);
    if (parts > 1.0) thinnest = std::min(thinnest, domain->prd[d] / parts);
  }
  gathered = thinnest < 2.0 * model_cutoff && model->has_graph();
  no_virial_fdotr_compute = (conservative && !gathered) ? 0 : 1;
  const std::string path = gathered
      ? fmt::format("subdomains {:.3g} A thin, under 2 x cutoff: the whole system, gathered, "
                    "evaluated on rank 0 by the package's whole-model graph: as fast as one "
                    "rank, ranks share no model work",
                    thinnest)
      : fmt::format("subdomains {:.3g} A thin: halo exchange with edge state", thinnest);
  log_several_rank_path(path);
}

// Ranks along dimension d: the processor grid, or for comm_style tiled (no grid) the cube
// root of the rank count, as for a uniform density.
double PairMLFF::processor_parts(int d) const
{
  const bool grid = comm->procgrid[0] > 0 && comm->procgrid[1] > 0 && comm->procgrid[2] > 0;
  return grid ? comm->procgrid[d] : std::cbrt(static_cast<double>(comm->nprocs));
}

// Logs the path a several-rank run takes (rank 0), once per change of path.
void PairMLFF::log_several_rank_path(const std::string &path)
{
  if (comm->me == 0 && path != path_logged)
    utils::logmesg(lmp, "pair mlff: model contract {} on {} ranks, {}\n", contract, comm->nprocs,
                   path);
  path_logged = path;
}

// All owned atoms of all ranks, in rank order: IDs, model species, positions. This rank's
// atoms are rows gathered_first .. gathered_first + nlocal.
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
  gathered_first = displs[comm->me];
  gathered_counts = counts;
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

// The whole system's edges within the model cutoff (after gather_system): each rank finds its
// own atoms' edges, in gathered atom indices with Cartesian image shifts (Angstrom), and all
// ranks gather them.
void PairMLFF::gather_edges(torch::Tensor &edge_index, torch::Tensor &edge_shift)
{
  const double *x = atom->x[0];
  const tagint *tag = atom->tag;
  const double cutoff_sq = model_cutoff * model_cutoff;
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
      const int64_t owner =
          tag[j] < static_cast<tagint>(index_of_tag.size()) ? index_of_tag[tag[j]] : -1;
      if (owner < 0)
        error->one(FLERR, "pair mlff: neighbour atom ID {} is owned by no rank", tag[j]);
      my_src.push_back(gathered_first + i);
      my_dst.push_back(owner);
      for (int k = 0; k < 3; k++) my_shift.push_back(x[3 * j + k] - all_x[3 * owner + k]);
    }
  }
  std::vector<int> counts, displs, counts3, displs3;
  const int64_t my_edges = static_cast<int64_t>(my_src.size());
  const int64_t nedges = gather_layout(world, my_edges, counts, displs, counts3, displs3);
  const bool root = comm->me == 0;
  edge_index = torch::empty({2, root ? nedges : 0}, torch::kInt64);
  edge_shift = torch::empty({root ? nedges : 0, 3}, torch::kFloat64);
  int64_t *src = edge_index.data_ptr<int64_t>();
  MPI_Gatherv(my_src.data(), static_cast<int>(my_edges), MPI_INT64_T, src, counts.data(),
              displs.data(), MPI_INT64_T, 0, world);
  MPI_Gatherv(my_dst.data(), static_cast<int>(my_edges), MPI_INT64_T, root ? src + nedges : src,
              counts.data(), displs.data(), MPI_INT64_T, 0, world);
  MPI_Gatherv(my_shift.data(), static_cast<int>(3 * my_edges), MPI_DOUBLE,
              edge_shift.data_ptr<double>(), counts3.data(), displs3.data(), MPI_DOUBLE, 0, world);
}

// This rank's rows of a (all atoms, width) array that rank 0 holds, in gathered order.
std::vector<double> PairMLFF::scatter_rows(const std::vector<double> &all_rows, int width)
{
  std::vector<int> counts(gathered_counts.size()), displs(gathered_counts.size());
  for (size_t r = 0, offset = 0; r < counts.size(); r++) {
    counts[r] = width * gathered_counts[r];
    displs[r] = static_cast<int>(offset);
    offset += counts[r];
  }
  std::vector<double> mine(static_cast<size_t>(width) * atom->nlocal);
  MPI_Scatterv(all_rows.data(), counts.data(), displs.data(), MPI_DOUBLE, mine.data(),
               static_cast<int>(mine.size()), MPI_DOUBLE, 0, world);
  return mine;
}

// A contract-2 model on the gathered system: the model sees every atom as owned (owner
// graph); each rank gets its own rows of energies, forces and per-atom virials.
void PairMLFF::compute_gathered()
{
  gather_system();
  torch::Tensor edge_index, edge_shift;
  gather_edges(edge_index, edge_shift);
  const int64_t natoms = static_cast<int64_t>(all_tags.size());
  const bool virials = conservative && (vflag_global || vflag_atom);
  const int width = virials ? 10 : 4;    // energy, force (3), virial (6)
  std::vector<double> all_rows;
  if (comm->me == 0) {
    auto device = model->device();
    auto cpu_long = torch::TensorOptions().dtype(torch::kInt64);
    auto outputs = run_timed(
        {torch::from_blob(all_x.data(), {natoms, 3}, torch::kFloat64).to(device),
         torch::from_blob(all_types.data(), {natoms}, cpu_long).to(device),
         edge_index.to(device), edge_shift.to(device), torch::tensor(natoms, cpu_long).to(device)});
    std::vector<torch::Tensor> columns{outputs.at(0).reshape({natoms, 1}), outputs.at(1)};
    if (virials) columns.push_back(outputs.at(2));
    auto rows = torch::cat(columns, 1).to(torch::kCPU, torch::kFloat64).contiguous();
    all_rows.assign(rows.data_ptr<double>(), rows.data_ptr<double>() + width * natoms);
  }
  add_gathered_rows(scatter_rows(all_rows, width), width);
}

// Adds this rank's rows of the gathered system, each energy (eV), force (3, eV/A) and, with
// width 10, per-atom virial (6, eV; its sum over ranks is the global virial), to LAMMPS's
// arrays; then the collective NaN check.
void PairMLFF::add_gathered_rows(const std::vector<double> &mine, int width)
{
  const bool virials = width == 10;
  double local_energy = 0.0, force_sum = 0.0;
  double **f = atom->f;
  for (int i = 0; i < atom->nlocal; i++) {
    const double *row = mine.data() + static_cast<size_t>(width) * i;
    for (int d = 0; d < 3; d++) {
      f[i][d] += row[1 + d];
      force_sum += row[1 + d];
    }
    local_energy += row[0];
    if (eflag_atom) eatom[i] += row[0];
    if (!virials) continue;
    for (int k = 0; k < 6; k++) {
      if (vflag_atom) vatom[i][k] += row[4 + k];
      if (vflag_global) virial[k] += row[4 + k];
    }
  }
  check_finite(local_energy, force_sum);
  if (eflag_global) eng_vdwl += local_energy;
}
