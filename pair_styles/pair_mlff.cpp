#include "pair_mlff.h"

#include "heap_reuse.h"
#include "model_file.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

using namespace LAMMPS_NS;

namespace {

// Model contracts this plugin reads: 2 (one graph) and 3 (pieces with halo exchange).
bool known_contract(const std::string &version)
{
  return version == "2" || version == "3";
}

// The comm->cutghostuser value an mlff pair style last chose (tells it from a user's own
// comm_modify cutoff, also after the input switches to another model).
double ghost_cutoff_we_set = -1.0;

}    // namespace

PairMLFF::PairMLFF(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairMLFF::~PairMLFF()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

void PairMLFF::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

// Node-local rank of this process in the whole MPI job (MPI_COMM_WORLD, not LAMMPS's own
// communicator: replicas on sub-communicators would all count from 0 and share GPU 0).
// With several GPUs a rank takes GPU (node-local rank % GPU count) unless told which.
int PairMLFF::node_local_rank() const
{
  MPI_Comm node;
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node);
  int rank = 0;
  MPI_Comm_rank(node, &rank);
  MPI_Comm_free(&node);
  return rank;
}

void PairMLFF::settings(int narg, char **arg)
{
  if (narg != 1 && narg != 3)
    error->all(FLERR, "Illegal pair_style mlff command: use 'pair_style mlff <model file> "
                      "[device cpu|cuda|cuda:<index>]'");
  std::string device;
  int gpu = -1;    // -1: by node-local rank
  if (narg == 3) {
    if (strcmp(arg[1], "device") != 0)
      error->all(FLERR, "Unknown pair_style mlff keyword '{}': the only keyword is 'device'",
                 arg[1]);
    device = arg[2];
    if (device.rfind("cuda:", 0) == 0) {
      gpu = utils::inumeric(FLERR, device.substr(5), false, lmp);
      device = "cuda";
    }
    if ((device != "cpu" && device != "cuda") || (device == "cuda" && gpu < -1))
      error->all(FLERR, "pair_style mlff device must be cpu, cuda or cuda:<index>, not '{}'",
                 arg[2]);
  }
  const std::string heap = lmp_bench::reuse_freed_memory();
  if (comm->me == 0) utils::logmesg(lmp, "pair mlff: {}\n", heap);
  load_model(arg[0], device, gpu);
}

void PairMLFF::load_model(const std::string &path, const std::string &device, int gpu)
{
  contract = 2;
  edge_state_width = 0;
  comm_forward = comm_reverse = 0;
  try {
    model = lmp_bench::ModelFile::open(path, device, gpu >= 0 ? gpu : node_local_rank(),
                                       gpu >= 0);
    nequip = model->is_nequip();
    if (nequip) return load_nequip(path);
    if (!known_contract(model->require("lmp_bench_contract")))
      error->all(FLERR, "Model file {} follows model contract {}, this plugin reads contracts 2 "
                        "and 3: re-export the model with this lmp-bench version",
                 path, model->require("lmp_bench_contract"));
    contract = std::stoi(model->require("lmp_bench_contract"));
    model_cutoff = std::stod(model->require("cutoff"));
    message_passing_layers = std::stoi(model->require("layers"));
    conservative = model->require("forces") == "conservative";
    species = lmp_bench::split_words(model->require("species"));
    const std::string &units = model->require("units");
    if (units != update->unit_style)
      error->all(FLERR, "Model file {} is in '{}' units but the input uses 'units {}': "
                        "set 'units {}' before pair_style mlff",
                 path, units, update->unit_style, units);
  } catch (const std::exception &err) {
    error->all(FLERR, "pair_style mlff: {}", err.what());
  }
  if (model_cutoff <= 0.0 || message_passing_layers < 1 || species.empty())
    error->all(FLERR, "Model file {} has invalid metadata (cutoff {}, layers {}, {} species)", path,
               model_cutoff, message_passing_layers, species.size());
  model_path = path;
  if (!conservative && comm->me == 0)
    error->warning(FLERR, "Model {} predicts forces directly: it has no virial, so its "
                          "contribution to pressure and stress/atom is zero (no NPT)", path);
  // One rank owns the whole periodic box: the graph is built on owned atoms only, each ghost
  // neighbour replaced by its owner plus an image shift, so any number of message-passing
  // layers is exact without ghosts beyond one cutoff. Several ranks: contract 3 exchanges
  // node features between layers (ghosts to one cutoff); contract 2 keeps ghosts out to
  // layers x cutoff, which carry the graph (see README.md).
  // One rank, several layers: the owner graph. One layer needs no more than the ghost
  // shell LAMMPS keeps anyway: edges to ghost atoms as they are, no owners to look up and
  // no image shifts to write (LAMMPS sums the ghosts' forces back).
  owner_graph = comm->nprocs == 1 && (contract == 3 || message_passing_layers > 1);
  // one rank with a contract-3 package's whole-model graph: that graph, as for contract 2
  graph_of_pieces = contract == 3 && owner_graph && model->has_graph();
  gathered = false;    // chosen again in init_style, where the processor grid is known
  path_logged.clear();
  if (contract == 3 && !graph_of_pieces) return load_halo();
  ghostneigh = (!owner_graph && message_passing_layers > 1) ? 1 : 0;
  // Owner graph: ghost atoms get no forces, so the virial comes from the model's per-atom
  // virials, not from LAMMPS's sum of r.f. Direct-force models have no virial at all.
  no_virial_fdotr_compute = (conservative && !owner_graph) ? 0 : 1;
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "pair mlff: {} on {} ({}, {} forces, cutoff {} A, {} message-passing layer(s), "
                   "species {}); model contract {}, {}\n",
                   path, model->device().str(), model->require("dtype"), model->require("forces"),
                   model_cutoff, message_passing_layers, model->require("species"), contract,
                   graph_of_pieces ? "one rank: owner graph (no ghost rows), the package's "
                                     "whole-model graph instead of its pieces"
                   : owner_graph ? "one rank: owner graph (no ghost rows)"
                               : (ghostneigh ? "several ranks: the path is chosen at each run's "
                                               "setup from the box and processor grid"
                                             : "ghosts out to one cutoff"));
}

void PairMLFF::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  int ntypes = atom->ntypes;
  if (narg != 2 + ntypes)
    error->all(FLERR, "pair_coeff for mlff needs '* *' and one element per atom type: {} types "
                      "need {} arguments, got {}",
               ntypes, 2 + ntypes, narg);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for mlff must start with '* *'");
  if (!model) error->all(FLERR, "pair_coeff mlff before pair_style mlff loaded a model");

  std::string known;
  for (const auto &name : species) known += " " + name;
  type_to_species.assign(ntypes + 1, -1);
  for (int type = 1; type <= ntypes; type++) {
    std::string element = arg[type + 1];
    if (element == "NULL") continue;
    auto found = std::find(species.begin(), species.end(), element);
    if (found == species.end())
      error->all(FLERR, "pair_coeff mlff: atom type {} is mapped to '{}', which model {} does not "
                        "know; it knows:{}",
                 type, element, model_path, known);
    type_to_species[type] = static_cast<int>(found - species.begin());
  }
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++)
      setflag[i][j] = (type_to_species[i] >= 0 && type_to_species[j] >= 0) ? 1 : 0;
}

void PairMLFF::init_style()
{
  if (force->newton_pair == 0)
    error->all(FLERR, "Pair style mlff requires 'newton on' (forces on ghost atoms are summed "
                      "back to their owners by LAMMPS)");
  if (!model) error->all(FLERR, "Pair style mlff has no model: check the pair_style line");
  if (contract == 2 && !nequip && !owner_graph && message_passing_layers > 1)
    choose_several_rank_path();
  if (contract == 3 && edge_state_width > 0 && comm->nprocs > 1) choose_edge_state_path();
  int flags = NeighConst::REQ_FULL;
  if (ghostneigh) flags |= NeighConst::REQ_GHOST;
  if ((owner_graph || nequip || gathered || contract == 3) && atom->tag_enable == 0)
    error->all(FLERR, "Pair style mlff needs atom IDs (atom_modify id yes) to map ghost atoms "
                      "to their owners");
  neighbor->add_request(this, flags);
  if (owner_graph || gathered || contract == 3) {    // ghosts out to one cutoff are enough
    if (comm->cutghostuser == ghost_cutoff_we_set) comm->cutghostuser = 0.0;    // an earlier model's
    return;
  }

  // A local atom's energy depends on atoms up to layers x cutoff away; they must be ghosts.
  // Raise the ghost cutoff ourselves, unless the input set a smaller one on purpose.
  double needed = message_passing_layers * model_cutoff + neighbor->skin;
  bool user_set = comm->cutghostuser > 0.0 && comm->cutghostuser != ghost_cutoff_we_set;
  if (user_set && comm->cutghostuser < needed)
    error->all(FLERR, "'comm_modify cutoff {}' is smaller than the {} A of ghost atoms that model "
                      "{} needs ({} layer(s) x {} A cutoff + {} A skin): raise it or remove it",
               comm->cutghostuser, needed, model_path, message_passing_layers, model_cutoff,
               neighbor->skin);
  if (comm->cutghostuser < needed) {
    comm->cutghostuser = needed;
    ghost_cutoff_we_set = needed;
  }
}

// A contract-2 model with several layers on several ranks: the ghost graph (ghosts out to
// layers x cutoff, every rank evaluates them) or the gathered system (rank 0 evaluates all
// atoms once, pair_mlff_gathered.cpp), whichever gives a rank fewer atoms. Both are
// exact; the log says which, and why, when it changes.
void PairMLFF::choose_several_rank_path()
{
  const double share = ghost_graph_share();
  gathered = share >= 1.0;
  ghostneigh = gathered ? 0 : 1;
  no_virial_fdotr_compute = (conservative && !gathered) ? 0 : 1;
  const std::string path = gathered
      ? fmt::format("the whole system, gathered, evaluated on rank 0 (its ghost graph, ghosts "
                    "out to layers x cutoff, would hold {:.2f}x the system's atoms): as fast "
                    "as one rank, ranks share no model work",
                    share)
      : fmt::format("ghost graph: ghosts out to layers x cutoff ({:.2f}x the system's atoms "
                    "per rank)",
                    share);
  log_several_rank_path(path);
}

double PairMLFF::init_one(int i, int j)
{
  if (setflag[i][j] == 0)
    error->all(FLERR, "pair_coeff mlff maps no model species to atom type {} or {}", i, j);
  if (ghostneigh) cutghost[i][j] = cutghost[j][i] = model_cutoff;
  return model_cutoff;
}

// Refresh the pairs within cutoff + margin (near_pairs.h) from LAMMPS's list, when stale.
// The margin, a quarter of the skin, trades the candidates tested each step against how
// often the list is refreshed (measured in benchmarks/plugin_overhead.py).
void PairMLFF::update_near_pairs(int listed)
{
  const double margin = 0.25 * neighbor->skin;
  near_pairs.update(list, listed, atom->x[0], atom->nlocal, atom->nlocal + atom->nghost,
                    comm->nprocs == 1, domain->h, model_cutoff, margin, neighbor->ncalls);
}

// Edges i->j for every neighbour pair within the model cutoff (among the pairs kept from
// LAMMPS's full list, near_pairs.h, so both directions appear), with the image shift that
// makes r_j - r_i + shift the true vector (step_edges.h).
// Owner graph (one rank): a ghost neighbour j becomes its owner, shift = x_j - x_owner.
// Ghost graph: nodes are local + ghost atoms, shifts are zero, and with message passing
// ghost atoms' neighbours are included too.
torch::Tensor PairMLFF::build_edges(int natoms_with_neighbors)
{
  if (owner_graph) map_ghosts_to_owners();
  update_near_pairs(natoms_with_neighbors);
  auto edge_index = step_edges.build(near_pairs, list->ilist, atom->x[0], model_cutoff,
                                     owner_graph ? owner_of.data() : nullptr, owner_map_version,
                                     domain->h);
  edge_count = step_edges.count();
  return edge_index;
}

// The neighbours of the ii-th listed atom closer than the model cutoff, into near_buffer;
// their count. The distance test writes every candidate and advances only past the kept
// ones (no branch to mispredict, and the writes stay in a small buffer in cache).
int PairMLFF::neighbours_within_cutoff(int ii)
{
  const double *x = atom->x[0];
  const double cutoff_sq = model_cutoff * model_cutoff;
  const int i = list->ilist[ii];
  const double xi = x[3 * i], yi = x[3 * i + 1], zi = x[3 * i + 2];
  const int *candidates = near_pairs.neighbours(ii);
  const int candidate_count = near_pairs.count(ii);
  if (static_cast<int>(near_buffer.size()) < candidate_count) near_buffer.resize(candidate_count);
  int *near = near_buffer.data();
  int kept = 0;
  for (int k = 0; k < candidate_count; k++) {
    const int j = candidates[k];
    const double dx = x[3 * j] - xi, dy = x[3 * j + 1] - yi, dz = x[3 * j + 2] - zi;
    near[kept] = j;
    kept += (dx * dx + dy * dy + dz * dz < cutoff_sq) ? 1 : 0;
  }
  return kept;
}

// Each ghost that is a periodic image of an owned atom (the same ID) maps to it, its owner;
// on one rank that is every ghost, on several a ghost of another rank's atom maps to itself.
// Ghosts and their IDs change only when LAMMPS rebuilds its neighbour list, so the map is
// redone then (owner_map_version counts the maps).
void PairMLFF::map_ghosts_to_owners()
{
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  if (neighbor->ncalls == owner_map_builds && static_cast<int>(owner_of.size()) == nall) return;
  owner_map_builds = neighbor->ncalls;
  owner_map_version++;
  const tagint *tag = atom->tag;
  tagint max_tag = 0;
  for (int i = 0; i < nlocal; i++) max_tag = std::max(max_tag, tag[i]);
  local_of_tag.assign(max_tag + 1, -1);
  for (int i = 0; i < nlocal; i++) local_of_tag[tag[i]] = i;
  owner_of.resize(nall);
  for (int i = 0; i < nall; i++) {
    const int owner = tag[i] <= max_tag ? local_of_tag[tag[i]] : -1;
    if (owner < 0 && owner_graph)
      error->one(FLERR, "pair mlff: ghost atom ID {} has no owned atom on this rank", tag[i]);
    owner_of[i] = owner < 0 ? i : owner;
  }
}

// One call of the whole model, its wall time counted for the log (finish()).
std::vector<torch::Tensor> PairMLFF::run_timed(const std::vector<torch::Tensor> &inputs)
{
  auto start = std::chrono::steady_clock::now();
  auto outputs = model->run(inputs);
  model_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  model_calls++;
  return outputs;
}

// Once per run, in the log: how much of the pair time the model itself took.
void PairMLFF::finish()
{
  if (comm->me == 0 && model_calls > 0)
    utils::logmesg(lmp, "pair mlff: {} model calls, {:.6g} s in the model on rank 0 ({:.6g} ms per call)\n",
                   model_calls, model_seconds, 1000.0 * model_seconds / model_calls);
  if (comm->me == 0 && halo_seconds > 0.0)
    utils::logmesg(lmp, "pair mlff: {:.6g} s in halo exchanges on rank 0 ({:.6g} ms per step)\n",
                   halo_seconds, 1000.0 * halo_seconds / std::max(model_calls, 1L));
  if (comm->me == 0 && edge_seconds > 0.0)
    utils::logmesg(lmp, "pair mlff: {:.6g} s building edges on rank 0 ({:.6g} ms per call; "
                        "pairs within cutoff + margin refreshed {} times, {} of them after "
                        "LAMMPS built its neighbour list)\n",
                   edge_seconds, 1000.0 * edge_seconds / std::max(model_calls, 1L),
                   near_pairs.refreshes(), near_pairs.refreshes_after_builds());
  if (comm->me == 0 && reverse_edges_added >= 0)
    utils::logmesg(lmp, "pair mlff: edge state, last step on rank 0: {} edges, {} of them the "
                        "reverses of edges to other ranks' atoms\n",
                   edge_count, reverse_edges_added);
  reverse_edges_added = -1;
  near_pairs.reset_counts();
  model_seconds = 0.0;
  halo_seconds = 0.0;
  edge_seconds = 0.0;
  model_calls = 0;
}

void PairMLFF::check_finite(double energy, double force_sum)
{
  int bad = (std::isfinite(energy) && std::isfinite(force_sum)) ? 0 : 1;
  int any_bad = 0;
  MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, world);
  if (any_bad)
    error->all(FLERR, "Model {} returned NaN or Inf energy/forces at step {}: the simulation has "
                      "left the model's valid range (atoms too close, timestep too large, or a "
                      "broken model)",
               model_path, update->ntimestep);
}

void PairMLFF::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (nequip) return compute_nequip();
  if (contract == 3 && !graph_of_pieces && !gathered) return compute_halo();
  if (gathered) return compute_gathered();

  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  if (nlocal == 0) {
    // A rank without atoms contributes nothing, but must join the collective NaN check.
    check_finite(0.0, 0.0);
    return;
  }

  auto device = model->device();
  const int nodes = owner_graph ? nlocal : nall;
  int with_neighbors = list->inum + (ghostneigh ? list->gnum : 0);
  auto edge_start = std::chrono::steady_clock::now();
  auto edge_index = build_edges(with_neighbors).to(device);
  edge_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - edge_start).count();
  auto edge_shift = torch::from_blob(const_cast<double *>(step_edges.shifts()), {edge_count, 3},
                                     torch::kFloat64)
                        .to(device);

  int *type = atom->type;
  if (static_cast<int>(species_buffer.size()) < nodes) species_buffer.resize(nodes);
  for (int i = 0; i < nodes; i++) species_buffer[i] = type_to_species[type[i]];

  auto cpu_long = torch::TensorOptions().dtype(torch::kInt64);
  auto positions = torch::from_blob(atom->x[0], {nodes, 3}, torch::kFloat64)
                       .to(device);
  auto species_t = torch::from_blob(species_buffer.data(), {nodes}, cpu_long).to(device);
  auto nlocal_t = torch::tensor(static_cast<int64_t>(nlocal), cpu_long).to(device);

  auto outputs = run_timed({positions, species_t, edge_index, edge_shift, nlocal_t});
  auto atom_energy = outputs.at(0).to(torch::kCPU, torch::kFloat64).contiguous();
  auto forces = outputs.at(1).to(torch::kCPU, torch::kFloat64).contiguous();

  const double *e = atom_energy.data_ptr<double>();
  const double *fm = forces.data_ptr<double>();
  double local_energy = 0.0;
  for (int i = 0; i < nlocal; i++) local_energy += e[i];

  // Ghost graph, conservative: forces on ghosts too (LAMMPS sums them back to their owners).
  // Owner graph or direct-force models: forces on owned atoms only.
  const int force_rows = (conservative && !owner_graph) ? nall : nlocal;
  double **f = atom->f;
  double force_sum = 0.0;
  for (int i = 0; i < force_rows; i++) {
    f[i][0] += fm[3 * i];
    f[i][1] += fm[3 * i + 1];
    f[i][2] += fm[3 * i + 2];
    force_sum += fm[3 * i] + fm[3 * i + 1] + fm[3 * i + 2];
  }
  check_finite(local_energy, force_sum);

  if (eflag_global) eng_vdwl += local_energy;
  if (eflag_atom)
    for (int i = 0; i < nlocal; i++) eatom[i] += e[i];

  if (conservative && (vflag_atom || (vflag_global && owner_graph))) {
    auto atom_virial = outputs.at(2).to(torch::kCPU, torch::kFloat64).contiguous();
    const double *w = atom_virial.data_ptr<double>();
    for (int i = 0; i < nodes; i++)
      for (int k = 0; k < 6; k++) {
        if (vflag_atom) vatom[i][k] += w[6 * i + k];
        if (vflag_global && owner_graph) virial[k] += w[6 * i + k];
      }
  }
  if (vflag_fdotr) virial_fdotr_compute();
}
