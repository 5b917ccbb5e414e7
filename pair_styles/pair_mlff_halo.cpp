// pair_style mlff for model contract 3: the model in per-layer pieces, with a halo exchange
// of node features between layers (see README.md and lmp_bench/models/halo.py).
//
// Each rank evaluates the edges of its own atoms only (centre owned, neighbour owned or
// ghost, ghosts out to one cutoff + skin). Before layer k > 1 the first H_k columns of the
// owned atoms' state go to their ghost copies by LAMMPS's forward communication; the
// backward pass runs the layers in reverse, and the gradients of ghost rows go back to their
// owners by reverse communication (summed). Forces are -dE/dr on both ends of each edge,
// the ghost end summed back by LAMMPS (newton on). On one rank the graph is the owner graph:
// no ghost rows, no exchange.
//
// Every rank calls every exchange in the same order, also with no atoms (it then skips the
// model and sends nothing of its own), so a rank without atoms cannot hang the others.
#include "pair_mlff.h"

#include "model_file.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "neigh_list.h"
#include "update.h"

#include <algorithm>
#include <chrono>
#include <cstring>

using namespace LAMMPS_NS;

void PairMLFF::load_halo()
{
  ghostneigh = 0;
  halo_widths.clear();
  for (const auto &word : lmp_bench::split_words(model->require("halo_widths")))
    halo_widths.push_back(std::stoi(word));
  if (static_cast<int>(halo_widths.size()) != message_passing_layers ||
      *std::min_element(halo_widths.begin(), halo_widths.end()) < 1)
    error->all(FLERR, "Model file {} has invalid metadata: {} layers but halo widths '{}'",
               model_path, message_passing_layers, model->require("halo_widths"));
  // Edge-state models: every edge's reverse must be an edge of the rank (add_reverse_edges),
  // so the halo path is kept on one rank too; its images are folded onto their owners there.
  edge_state_width = std::stoi(model->metadata().count("edge_state_width")
                                   ? model->require("edge_state_width")
                                   : std::string("0"));
  if (edge_state_width > 0) owner_graph = false;
  // LAMMPS sizes its buffers from these (Comm::init), so they are set before any run.
  comm_forward = comm_reverse = *std::max_element(halo_widths.begin(), halo_widths.end());
  // Forces land on ghost atoms too, so LAMMPS's sum of r.f over all atoms is the virial.
  no_virial_fdotr_compute = conservative ? 0 : 1;
  if (comm->me == 0) {
    std::string widths;
    for (int w : halo_widths) widths += " " + std::to_string(w);
    std::string path_taken = owner_graph
        ? "one rank: owner graph (no ghost rows, no exchange)"
        : fmt::format("halo exchange: ghosts to one cutoff, {} forward and {} reverse exchanges "
                      "per step (values per atom:{}){}",
                      message_passing_layers - 1, conservative ? message_passing_layers - 1 : 0,
                      widths,
                      edge_state_width > 0
                          ? fmt::format("; edge state: {} values per edge stay on the rank, "
                                        "edges to other ranks' atoms evaluated in both "
                                        "directions, periodic images of own atoms folded "
                                        "onto them",
                                        edge_state_width)
                          : "");
    utils::logmesg(lmp,
                   "pair mlff: {} on {} ({}, {} forces, cutoff {} A, {} message-passing layer(s), "
                   "species {}); model contract 3, {}\n",
                   model_path, model->device().str(), model->require("dtype"),
                   model->require("forces"), model_cutoff, message_passing_layers,
                   model->require("species"), path_taken);
  }
}

// Edges centred on owned atoms: neighbour node = LAMMPS index (ghost rows follow the owned
// ones), or on one rank the owner of a ghost neighbour; the force on the neighbour end goes
// to the LAMMPS atom itself. Vectors are r_j - r_i in float64, Angstrom.
void PairMLFF::build_halo_edges()
{
  // edge state: a periodic image of an owned atom is folded onto it as well (owner_of maps
  // other ranks' atoms to themselves), so its edges need no reverse of their own
  const bool fold = owner_graph || edge_state_width > 0;
  if (fold) map_ghosts_to_owners();
  const double *x = atom->x[0];
  update_near_pairs(list->inum);
  const int64_t capacity = near_pairs.total();
  halo_edge_index.resize(2 * capacity);
  halo_edge_atom.resize(capacity);
  halo_edge_vectors.resize(3 * capacity);
  int64_t *centre = halo_edge_index.data();
  int64_t *neighbour = centre + capacity;
  int *atom_j = halo_edge_atom.data();
  double *vec = halo_edge_vectors.data();
  int64_t count = 0;
  for (int ii = 0; ii < list->inum; ii++) {
    const int i = list->ilist[ii];
    const double xi = x[3 * i], yi = x[3 * i + 1], zi = x[3 * i + 2];
    const int kept = neighbours_within_cutoff(ii);
    const int *near = near_buffer.data();
    for (int k = 0; k < kept; k++, count++) {
      const int j = near[k];
      centre[count] = i;
      neighbour[count] = fold ? owner_of[j] : j;
      atom_j[count] = j;
      vec[3 * count] = x[3 * j] - xi;
      vec[3 * count + 1] = x[3 * j + 1] - yi;
      vec[3 * count + 2] = x[3 * j + 2] - zi;
    }
  }
  // (2, E) contiguous: the neighbours move up behind the centres
  std::memmove(centre + count, neighbour, count * sizeof(int64_t));
  edge_count = count;
  if (edge_state_width > 0) add_reverse_edges();
}

// Edge-state models (see lmp_bench/models/halo.py): the reverse of each edge to a ghost is
// appended (centred on the ghost, vector negated, its force on the owned end going to the
// owned atom), and a third row holds every edge's reverse. An edge to an owned atom (or to
// an image of one, folded onto it) has its reverse among that atom's edges: edges come
// grouped by centre, and the vector tells images apart. A folded edge whose reverse is not
// there (the two ends' distances rounded to either side of the cutoff) is unfolded: its
// neighbour is the ghost again, and it gets an appended reverse.
void PairMLFF::add_reverse_edges()
{
  const int nlocal = atom->nlocal;
  const int64_t count = edge_count;
  const int64_t *centre = halo_edge_index.data();
  int64_t *neighbour = halo_edge_index.data() + count;
  const double *vec = halo_edge_vectors.data();
  // each owned atom's group of edges: [first, end), empty for atoms without edges
  group_first.assign(nlocal, 0);
  group_end.assign(nlocal, 0);
  for (int64_t e = 0; e < count; e++) {
    if (e == 0 || centre[e] != centre[e - 1]) group_first[centre[e]] = e;
    group_end[centre[e]] = e + 1;
  }
  reverse_of.resize(count);
  int64_t to_ghosts = 0;
  for (int64_t e = 0; e < count; e++) {
    const int64_t i = centre[e], j = neighbour[e];
    reverse_of[e] = -1;
    if (j < nlocal) {
      for (int64_t r = group_first[j]; r < group_end[j]; r++) {
        const double dx = vec[3 * r] + vec[3 * e], dy = vec[3 * r + 1] + vec[3 * e + 1],
                     dz = vec[3 * r + 2] + vec[3 * e + 2];
        if (neighbour[r] == i && dx * dx + dy * dy + dz * dz < 1e-8) {
          reverse_of[e] = r;
          break;
        }
      }
      if (reverse_of[e] >= 0) continue;
      if (halo_edge_atom[e] == j)
        error->one(FLERR, "pair mlff: the edge between atoms {} and {} has no reverse "
                          "(asymmetric neighbour list)", atom->tag[i], atom->tag[j]);
      neighbour[e] = halo_edge_atom[e];    // unfolded: the ghost is its own node again
    }
    to_ghosts++;
  }
  const int64_t total = count + to_ghosts;
  // the (3, E) rows go to a second buffer, swapped with the first: no allocation per step
  reverse_rows.resize(3 * total);
  int64_t *c = reverse_rows.data(), *n = c + total, *reverse = n + total;
  std::copy(centre, centre + count, c);
  std::copy(neighbour, neighbour + count, n);
  halo_edge_atom.resize(total);
  halo_edge_vectors.resize(3 * total);
  double *v = halo_edge_vectors.data();
  int64_t added = count;
  for (int64_t e = 0; e < count; e++) {
    if (reverse_of[e] >= 0) {
      reverse[e] = reverse_of[e];
      continue;
    }
    const int64_t i = centre[e];
    c[added] = n[e];
    n[added] = i;
    halo_edge_atom[added] = static_cast<int>(i);
    for (int d = 0; d < 3; d++) v[3 * added + d] = -v[3 * e + d];
    reverse[added] = e;
    reverse[e] = added++;
  }
  halo_edge_index.swap(reverse_rows);
  edge_count = total;
  reverse_edges_added = to_ghosts;
}

void PairMLFF::halo_forward(const HaloRows &rows)
{
  halo = rows;
  comm->forward_comm(this, rows.slots);
}

void PairMLFF::halo_reverse(const HaloRows &rows)
{
  halo = rows;
  comm->reverse_comm(this, rows.slots);
}

namespace {

// `n` rows of `bytes` each, `from_stride` bytes apart into `to_stride` bytes apart (between
// the exchange's rows and LAMMPS's buffer, whose rows are whole doubles).
void copy_rows(char *to, size_t to_stride, const char *from, size_t from_stride, int n,
               size_t bytes)
{
  if (to_stride == bytes && from_stride == bytes) {
    std::memcpy(to, from, n * bytes);
    return;
  }
  for (int i = 0; i < n; i++) std::memcpy(to + i * to_stride, from + i * from_stride, bytes);
}

template <typename Value>
void add_row(char *row, const double *in, size_t row_bytes)
{
  auto *out = reinterpret_cast<Value *>(row);
  const auto *values = reinterpret_cast<const Value *>(in);
  const size_t count = row_bytes / sizeof(Value);
  for (size_t k = 0; k < count; k++) out[k] += values[k];
}

}    // namespace

// Row j of the exchange in progress: an owned atom's in the state, a ghost's in the ghost rows.
char *PairMLFF::halo_row(int j) const
{
  const int nlocal = atom->nlocal;
  return j < nlocal ? halo.owned + j * halo.owned_stride : halo.ghost + (j - nlocal) * halo.row_bytes;
}

int PairMLFF::pack_forward_comm(int n, int *list_, double *buf, int, int *)
{
  for (int i = 0; i < n; i++)
    std::memcpy(buf + static_cast<size_t>(i) * halo.slots, halo_row(list_[i]), halo.row_bytes);
  return n * halo.slots;
}

void PairMLFF::unpack_forward_comm(int n, int first, double *buf)
{
  copy_rows(halo_row(first), halo.row_bytes, reinterpret_cast<const char *>(buf),
            halo.slots * sizeof(double), n, halo.row_bytes);
}

int PairMLFF::pack_reverse_comm(int n, int first, double *buf)
{
  copy_rows(reinterpret_cast<char *>(buf), halo.slots * sizeof(double), halo_row(first),
            halo.row_bytes, n, halo.row_bytes);
  return n * halo.slots;
}

void PairMLFF::unpack_reverse_comm(int n, int *list_, double *buf)
{
  for (int i = 0; i < n; i++) {
    const double *in = buf + static_cast<size_t>(i) * halo.slots;
    if (halo.floats)
      add_row<float>(halo_row(list_[i]), in, halo.row_bytes);
    else
      add_row<double>(halo_row(list_[i]), in, halo.row_bytes);
  }
}

// The ghost rows (nghost, width) of the first `width` columns of `state` (owned rows; an
// undefined tensor on a rank without atoms), by forward communication. On the host the
// exchange packs straight from `state` and unpacks straight into the new ghost rows.
torch::Tensor PairMLFF::exchange_ghosts(const torch::Tensor &state, int width)
{
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  auto options = torch::TensorOptions().dtype(model->dtype()).device(model->device());
  if (owner_graph) return torch::zeros({0, width}, options);
  auto host = torch::TensorOptions().dtype(model->dtype()).device(torch::kCPU);
  torch::Tensor owned;
  if (nlocal > 0)
    owned = state.device().is_cpu() && state.stride(1) == 1
        ? state
        : state.narrow(1, 0, width).to(host, false, true).contiguous();
  auto ghost = torch::empty({nghost, width}, host);
  halo_forward(host_rows(owned, ghost, width));
  return ghost.to(options.device());
}

// Adds to `state_grad` (owned rows) the gradients of the ghost rows of its owned atoms,
// summed over every rank that holds them as ghosts, by reverse communication. On the host
// the sums go straight into `state_grad`.
void PairMLFF::add_ghost_gradients(const torch::Tensor &ghost_grad, torch::Tensor &state_grad,
                                   int width)
{
  if (owner_graph) return;
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  auto host = torch::TensorOptions().dtype(model->dtype()).device(torch::kCPU);
  // swaps that pass ghosts on (thin subdomains, corners) add into ghost rows: the model's
  // output itself where it is already a contiguous host tensor (it is not read again)
  auto ghost = ghost_grad.defined() && nghost > 0 ? ghost_grad.to(host).contiguous()
                                                  : torch::zeros({nghost, width}, host);
  const bool in_place = nlocal > 0 && state_grad.defined() && state_grad.device().is_cpu() &&
      state_grad.stride(1) == 1;
  auto owned = in_place ? state_grad : torch::zeros({nlocal, width}, host);
  halo_reverse(host_rows(owned, ghost, width));
  if (!in_place && nlocal > 0 && state_grad.defined())
    state_grad.narrow(1, 0, width).add_(owned.to(state_grad.device()));
}

// The exchange's rows: the owned rows of `owned` (its first `width` columns) and the rows
// of `ghost`, both host tensors of the model's dtype.
PairMLFF::HaloRows PairMLFF::host_rows(const torch::Tensor &owned, const torch::Tensor &ghost,
                                       int width) const
{
  HaloRows rows;
  rows.floats = model->dtype() == torch::kFloat32;
  const size_t value = rows.floats ? sizeof(float) : sizeof(double);
  if (owned.defined() && owned.numel() > 0) {
    rows.owned = static_cast<char *>(owned.data_ptr());
    rows.owned_stride = owned.stride(0) * value;
  }
  if (ghost.numel() > 0) rows.ghost = static_cast<char *>(ghost.data_ptr());
  rows.row_bytes = width * value;
  rows.slots = static_cast<int>((rows.row_bytes + sizeof(double) - 1) / sizeof(double));
  return rows;
}

// Forces -dE/dr on both ends of every edge (dE/d(edge vector) = g: +g on the centre, -g on
// the neighbour, a ghost's part summed back by LAMMPS), and per-atom virials -r (x) g split
// half to each end.
void PairMLFF::apply_edge_forces(const torch::Tensor &edge_grad)
{
  auto grad = edge_grad.to(torch::kCPU, torch::kFloat64).contiguous();
  const double *g = grad.data_ptr<double>();
  const int64_t *centre = halo_edge_index.data();
  const double *vec = halo_edge_vectors.data();
  double **f = atom->f;
  for (int64_t e = 0; e < edge_count; e++) {
    const int i = static_cast<int>(centre[e]), j = halo_edge_atom[e];
    for (int d = 0; d < 3; d++) {
      f[i][d] += g[3 * e + d];
      f[j][d] -= g[3 * e + d];
    }
    if (vflag_atom) {
      const double *r = vec + 3 * e;
      const double *ge = g + 3 * e;
      const double v[6] = {-0.5 * r[0] * ge[0], -0.5 * r[1] * ge[1], -0.5 * r[2] * ge[2],
                           -0.5 * r[0] * ge[1], -0.5 * r[0] * ge[2], -0.5 * r[1] * ge[2]};
      for (int k = 0; k < 6; k++) {
        vatom[i][k] += v[k];
        vatom[j][k] += v[k];
      }
    }
  }
}

void PairMLFF::compute_halo()
{
  const int nlocal = atom->nlocal;
  const int layers = message_passing_layers;
  const bool active = nlocal > 0;    // a rank without atoms still joins every exchange
  const bool backward = conservative;
  auto device = model->device();
  auto options = torch::TensorOptions().dtype(model->dtype()).device(device);
  auto model_start = std::chrono::steady_clock::now();
  double exchange_seconds = 0.0;
  auto exchange_clock = [&](auto &&exchange) {
    auto start = std::chrono::steady_clock::now();
    exchange();
    exchange_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  torch::Tensor species_t, edge_index, features, state, ghost, messages;
  std::vector<torch::Tensor> out;
  const bool carried = edge_state_width > 0;
  auto layer_inputs = [&]() {
    std::vector<torch::Tensor> inputs{state, ghost, species_t, edge_index, features};
    if (carried) inputs.push_back(messages);
    return inputs;
  };
  double edges_this_step = 0.0;
  if (active) {
    auto edge_start = std::chrono::steady_clock::now();
    build_halo_edges();
    edges_this_step = std::chrono::duration<double>(std::chrono::steady_clock::now() - edge_start).count();
    const int nodes = owner_graph ? nlocal : nlocal + atom->nghost;
    if (static_cast<int>(species_buffer.size()) < nodes) species_buffer.resize(nodes);
    for (int i = 0; i < nodes; i++) species_buffer[i] = type_to_species[atom->type[i]];
    species_t = torch::from_blob(species_buffer.data(), {nodes}, torch::kInt64).to(device);
    edge_index = torch::from_blob(halo_edge_index.data(), {carried ? 3 : 2, edge_count},
                                  torch::kInt64)
                     .to(device);
    auto vectors = torch::from_blob(halo_edge_vectors.data(), {edge_count, 3}, torch::kFloat64)
                       .to(options);
    features = model->run_piece("edge", {species_t, edge_index, vectors}, backward).at(0);
    auto first = model->run_piece("first", {species_t}, false).at(0);
    state = first.narrow(0, 0, nlocal);
    ghost = first.narrow(0, nlocal, nodes - nlocal).narrow(1, 0, halo_widths[0]).contiguous();
    if (carried) messages = torch::zeros({edge_count, edge_state_width}, options);
  }
  for (int k = 1; k <= layers; k++) {
    if (k > 1) exchange_clock([&] { ghost = exchange_ghosts(state, halo_widths[k - 1]); });
    if (active) {
      out = model->run_piece("layer_" + std::to_string(k), layer_inputs(), backward);
      state = out.at(0);
      if (carried && k < layers) messages = out.at(1);
    }
  }

  double local_energy = 0.0, force_sum = 0.0;
  torch::Tensor energies;
  if (active) {
    energies = state.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const double *e = energies.data_ptr<double>();
    for (int i = 0; i < nlocal; i++) local_energy += e[i];
    if (eflag_atom)
      for (int i = 0; i < nlocal; i++) eatom[i] += e[i];
  }
  if (backward) {
    torch::Tensor grad, feature_grad, messages_grad;
    if (active) grad = torch::ones({nlocal}, options);
    for (int k = layers; k >= 1; k--) {
      std::vector<torch::Tensor> grads;
      if (active) {
        std::vector<torch::Tensor> cotangents{grad};
        if (carried && k < layers) cotangents.push_back(messages_grad);
        grads = model->vjp("layer_" + std::to_string(k), cotangents);
        feature_grad = feature_grad.defined() ? feature_grad + grads.at(2) : grads.at(2);
        if (carried) messages_grad = grads.at(3);
      }
      if (k == 1) break;    // the first state is a function of the species only
      if (active) grad = grads.at(0);
      torch::Tensor ghost_grad = active ? grads.at(1) : torch::Tensor();
      exchange_clock([&] { add_ghost_gradients(ghost_grad, grad, halo_widths[k - 1]); });
    }
    if (active) {
      auto edge_grad = model->vjp("edge", {feature_grad}).at(0);
      force_sum = edge_grad.sum().item<double>();
      apply_edge_forces(edge_grad);
    }
  } else if (active) {    // direct forces on the owned atoms
    auto forces = out.at(1).detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const double *fm = forces.data_ptr<double>();
    double **f = atom->f;
    for (int i = 0; i < nlocal; i++)
      for (int d = 0; d < 3; d++) {
        f[i][d] += fm[3 * i + d];
        force_sum += fm[3 * i + d];
      }
  }
  model_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - model_start).count() -
      exchange_seconds - edges_this_step;
  edge_seconds += edges_this_step;
  halo_seconds += exchange_seconds;
  model_calls++;
  check_finite(local_energy, force_sum);
  if (eflag_global) eng_vdwl += local_energy;
  if (vflag_fdotr) virial_fdotr_compute();
}
