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

void PairMLFF::halo_forward(int slots)
{
  halo_slots = slots;
  halo_rows.resize(static_cast<size_t>(atom->nlocal + atom->nghost) * slots);
  comm->forward_comm(this, slots);
}

void PairMLFF::halo_reverse(int slots, bool floats)
{
  halo_slots = slots;
  halo_floats = floats;
  halo_rows.resize(static_cast<size_t>(atom->nlocal + atom->nghost) * slots);
  comm->reverse_comm(this, slots);
  halo_floats = false;
}

int PairMLFF::pack_forward_comm(int n, int *list_, double *buf, int, int *)
{
  const int w = halo_slots;
  for (int i = 0; i < n; i++)
    std::memcpy(buf + static_cast<size_t>(i) * w, &halo_rows[static_cast<size_t>(list_[i]) * w],
                w * sizeof(double));
  return n * w;
}

void PairMLFF::unpack_forward_comm(int n, int first, double *buf)
{
  std::memcpy(&halo_rows[static_cast<size_t>(first) * halo_slots], buf,
              static_cast<size_t>(n) * halo_slots * sizeof(double));
}

int PairMLFF::pack_reverse_comm(int n, int first, double *buf)
{
  std::memcpy(buf, &halo_rows[static_cast<size_t>(first) * halo_slots],
              static_cast<size_t>(n) * halo_slots * sizeof(double));
  return n * halo_slots;
}

namespace {

template <typename Value>
void add_rows(double *rows, const int *list, const double *buf, int n, int slots)
{
  const int w = slots * static_cast<int>(sizeof(double) / sizeof(Value));
  for (int i = 0; i < n; i++) {
    auto *row = reinterpret_cast<Value *>(rows + static_cast<size_t>(list[i]) * slots);
    const auto *in = reinterpret_cast<const Value *>(buf + static_cast<size_t>(i) * slots);
    for (int k = 0; k < w; k++) row[k] += in[k];
  }
}

}    // namespace

void PairMLFF::unpack_reverse_comm(int n, int *list_, double *buf)
{
  if (halo_floats)
    add_rows<float>(halo_rows.data(), list_, buf, n, halo_slots);
  else
    add_rows<double>(halo_rows.data(), list_, buf, n, halo_slots);
}

// halo_rows as (nlocal + nghost, width) values of the model's dtype. A float32 model's
// values go two to a double slot: half the bytes through LAMMPS's buffers and MPI, and no
// conversion to double and back.
torch::Tensor PairMLFF::halo_view(int width)
{
  const bool floats = model->dtype() == torch::kFloat32;
  const int per_slot = floats ? 2 : 1;
  const int slots = (width + per_slot - 1) / per_slot;
  const int64_t rows = atom->nlocal + atom->nghost;
  halo_rows.resize(static_cast<size_t>(rows) * slots);
  halo_slots = slots;
  halo_floats = floats;
  return torch::from_blob(halo_rows.data(), {rows, slots * per_slot},
                          floats ? torch::kFloat32 : torch::kFloat64)
      .narrow(1, 0, width);
}

// The ghost rows (nghost, width) of the first `width` columns of `state` (owned rows; an
// undefined tensor on a rank without atoms), by forward communication.
torch::Tensor PairMLFF::exchange_ghosts(const torch::Tensor &state, int width)
{
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  auto options = torch::TensorOptions().dtype(model->dtype()).device(model->device());
  if (owner_graph) return torch::zeros({0, width}, options);
  auto rows = halo_view(width);
  if (nlocal > 0) rows.narrow(0, 0, nlocal).copy_(state.narrow(1, 0, width));
  halo_forward(halo_slots);
  // a copy: halo_rows is reused by the next exchange
  return rows.narrow(0, nlocal, nghost).to(options, false, true).contiguous();
}

// Adds to `state_grad` (owned rows) the gradients of the ghost rows of its owned atoms,
// summed over every rank that holds them as ghosts, by reverse communication.
void PairMLFF::add_ghost_gradients(const torch::Tensor &ghost_grad, torch::Tensor &state_grad,
                                   int width)
{
  if (owner_graph) return;
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  auto rows = halo_view(width);
  rows.narrow(0, 0, nlocal).zero_();
  if (ghost_grad.defined() && nghost > 0)
    rows.narrow(0, nlocal, nghost).copy_(ghost_grad);
  else
    rows.narrow(0, nlocal, nghost).zero_();
  halo_reverse(halo_slots, halo_floats);
  if (nlocal == 0 || !state_grad.defined()) return;
  state_grad.narrow(1, 0, width).add_(rows.narrow(0, 0, nlocal).to(state_grad.device()));
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
