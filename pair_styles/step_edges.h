#ifndef LMP_BENCH_STEP_EDGES_H
#define LMP_BENCH_STEP_EDGES_H

#include "near_pairs.h"

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace lmp_bench {

// Model contract 2's edges of one step: every pair kept by NearPairs that is within the
// cutoff, as a contiguous (2, E) int64 edge_index and (E, 3) image shifts. The pairs that
// were within cutoff - margin at NearPairs' last refresh are edges until its next one, so
// they are written once per refresh and stay at the front of the buffers; each step tests
// only the others (the pairs near the cutoff) and appends those within it. Edges are
// grouped by centre within each of the two parts, not overall: contract 2 asks for no order.
class StepEdges {
 public:
  // This step's edge_index, a view of a buffer reused across steps. `ilist`: LAMMPS's list
  // order that `near` follows; `x`: positions of all local and ghost atoms.
  // Ghost graph (`owner_of` null): neighbour = LAMMPS index, shift zero.
  // Owner graph: neighbour = owner_of[j], shift = x_j - x_owner (a box vector); whenever the
  // caller remaps owners it changes `owner_version`, and `box` (LAMMPS's h, 6 values) is
  // watched, since the shifts written once follow both.
  torch::Tensor build(const NearPairs &near, const int *ilist, const double *x, double cutoff,
                      const int *owner_of, int64_t owner_version, const double *box);
  const double *shifts() const { return shifts_.data(); }
  int64_t count() const { return count_; }

 private:
  void write_inner(const NearPairs &near, const int *ilist, const double *x, const int *owner_of);
  int64_t test_shell(const double *x, double cutoff_sq);

  torch::Tensor buffer_;                  // centres [0, E), then neighbours [E, 2E)
  std::vector<double> shifts_;            // (E, 3), Angstrom
  std::vector<int64_t> inner_neighbour_;  // the neighbour row's first part, copied in each step
  std::vector<int> shell_centre_, shell_atom_;  // pairs tested each step (LAMMPS indices)
  std::vector<int> within_;               // scratch: this step's tested pairs within the cutoff
  int64_t inner_ = 0, count_ = 0;
  int64_t generation_ = -1, owner_version_ = -1;
  bool owner_graph_ = false;
  bool shifts_zero_ = true;               // shifts_ holds zeros only
  double box_[6] = {0, 0, 0, 0, 0, 0};
};

}    // namespace lmp_bench

#endif
