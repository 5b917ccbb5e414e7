// pair_style mlff: runs a model exported by lmp_bench.export inside LAMMPS.
//
//   pair_style mlff model.pt2 [device cpu|cuda]
//   pair_coeff * * O H
//
// The model contract (inputs, outputs, metadata) is written down in README.md.
#pragma once

#include "near_pairs.h"
#include "step_edges.h"
#include "pair.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace lmp_bench {
class ModelFile;
}

namespace LAMMPS_NS {

class PairMLFF : public Pair {
 public:
  explicit PairMLFF(class LAMMPS *);
  ~PairMLFF() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char **arg) override;
  void coeff(int narg, char **arg) override;
  void init_style() override;
  double init_one(int i, int j) override;
  void finish() override;
  // halo exchange of node features between layers (model contract 3)
  int pack_forward_comm(int n, int *list, double *buf, int pbc_flag, int *pbc) override;
  void unpack_forward_comm(int n, int first, double *buf) override;
  int pack_reverse_comm(int n, int first, double *buf) override;
  void unpack_reverse_comm(int n, int *list, double *buf) override;
  // The rows a halo exchange moves: owned atoms' rows, `owned_stride` bytes apart (the
  // model's state itself: its first columns), and ghost rows, contiguous; `row_bytes` each,
  // float32 (`floats`) or float64 values; `slots` doubles per row in LAMMPS's buffers.
  struct HaloRows {
    char *owned = nullptr;
    size_t owned_stride = 0;
    char *ghost = nullptr;
    size_t row_bytes = 0;
    int slots = 0;
    bool floats = false;
  };
  // Forward halo exchange (owned rows -> ghost rows) and its transpose (ghost rows summed
  // into their owners). Public for the halo check command (mlff_halo_check.cpp).
  void halo_forward(const HaloRows &rows);
  void halo_reverse(const HaloRows &rows);

 private:
  void allocate();
  void load_model(const std::string &path, const std::string &device, int gpu);
  int node_local_rank() const;
  torch::Tensor build_edges(int natoms_with_neighbors);
  void update_near_pairs(int listed);
  int neighbours_within_cutoff(int ii);
  void map_ghosts_to_owners();
  void check_finite(double energy, double force_sum);
  std::vector<torch::Tensor> run_timed(const std::vector<torch::Tensor> &inputs);
  // model contract 3, per-layer pieces with halo exchange (pair_mlff_halo.cpp)
  void load_halo();
  void build_halo_edges();
  void add_reverse_edges();
  void compute_halo();
  torch::Tensor exchange_ghosts(const torch::Tensor &state, int width);
  void add_ghost_gradients(const torch::Tensor &ghost_grad, torch::Tensor &state_grad, int width);
  HaloRows host_rows(const torch::Tensor &owned, const torch::Tensor &ghost, int width) const;
  char *halo_row(int j) const;
  void apply_edge_forces(const torch::Tensor &edge_grad);
  // nequip-compiled files (pair_mlff_nequip.cpp)
  void load_nequip(const std::string &path);
  void gather_system();
  // the gathered system (pair_mlff_gathered.cpp)
  void gather_edges(torch::Tensor &edge_index, torch::Tensor &edge_shift);
  void compute_gathered();
  std::vector<double> scatter_rows(const std::vector<double> &all_rows, int width);
  void add_gathered_rows(const std::vector<double> &mine, int width);
  double ghost_graph_share() const;
  double processor_parts(int d) const;
  void log_several_rank_path(const std::string &path);
  void choose_several_rank_path();
  void choose_edge_state_path();
  void compute_nequip();

  std::unique_ptr<lmp_bench::ModelFile> model;
  std::string model_path;
  double model_cutoff = 0.0;            // Angstrom (metal units)
  int message_passing_layers = 1;       // ghost cutoff = layers x cutoff (contract 2)
  int contract = 2;                     // 2: one graph, 3: pieces with halo exchange
  bool graph_of_pieces = false;         // contract 3 on one rank: the whole-model graph
  std::vector<int> halo_widths;         // contract 3: columns neighbours read, per layer
  HaloRows halo;                        // the rows of the exchange in progress
  std::vector<int64_t> halo_edge_index; // contract 3: centres, then neighbours (node index),
                                        // then (edge state) each edge's reverse
  int edge_state_width = 0;             // contract 3: messages per edge between layers
  std::vector<int64_t> group_first, group_end;  // edge state: each owned centre's edges
  std::vector<int64_t> reverse_rows;            // edge state: the other (3, E) buffer
  std::vector<int64_t> reverse_of;              // edge state: scratch, -1: to a ghost
  int64_t reverse_edges_added = -1;            // edge state: in the last step (log)
  std::vector<int> halo_edge_atom;      // neighbour's LAMMPS index (its force goes there)
  std::vector<double> halo_edge_vectors;  // r_j - r_i, Angstrom
  bool conservative = true;             // false: the model returns forces directly
  std::vector<std::string> species;     // model species names, index = model species id
  std::vector<int> type_to_species;     // LAMMPS type (1-based) -> model species id, -1 unset
  lmp_bench::StepEdges step_edges;          // contract 2's edges and shifts (step_edges.h)
  int64_t edge_count = 0;
  bool owner_graph = false;                 // one rank: nodes = owned atoms, ghosts -> owners
  std::vector<int> local_of_tag, owner_of;  // owner graph: atom ID -> owned index, atom -> owner
  bigint owner_map_builds = -1;             // LAMMPS's list build the owner map was made at
  int64_t owner_map_version = 0;            // counts owner maps (step_edges.h)
  lmp_bench::NearPairs near_pairs;          // pairs within cutoff + margin (near_pairs.h)
  std::vector<int> near_buffer;             // one atom's neighbours within the cutoff
  std::vector<int64_t> species_buffer;      // model species per local+ghost atom
  // nequip files: every rank evaluates the whole periodic system (all owned atoms of all
  // ranks, gathered), and keeps the forces and energies of the atoms it owns
  bool nequip = false;
  std::vector<int> nequip_input_order;      // nequip input slot -> our tensor (see .cpp)
  int nequip_energy_out = -1, nequip_force_out = -1, nequip_virial_out = -1;
  bool nequip_stress = false;               // the file returns stress (ase target), not virial
  std::vector<int64_t> all_tags, all_types, index_of_tag;
  int64_t gathered_first = 0;              // this rank's first row in the gathered system
  std::vector<int> gathered_counts;         // owned atoms of each rank, gathered order
  bool gathered = false;                    // contract 2 on several ranks: gathered system
  std::string path_logged;                  // the last path the log named
  std::vector<double> all_x;
  double model_seconds = 0.0;               // wall time inside the model this run
  double halo_seconds = 0.0;                // wall time in halo exchanges this run
  double edge_seconds = 0.0;                // wall time building the edge list this run
  long model_calls = 0;
};

}    // namespace LAMMPS_NS
