#ifndef LMP_BENCH_STEP_EDGES_H
#define LMP_BENCH_STEP_EDGES_H

#include "near_pairs.h"

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace lmp_bench {

// Model contract 2's edges of one step: every pair kept by NearPairs that is within the
// cutoff, as a contiguous (2, E) int64 edge_index and (E, 3) image shifts.
// Once per refresh of NearPairs, all its pairs are laid out in one order: the inner ones
// (within cutoff - margin at the refresh: edges until the next), then the shell's bands,
// nearest first. A step's edges are a prefix of that order (the inner pairs and the bands
// that NearPairs' drift leaves wholly within the cutoff), then the pairs of the bands
// straddling the cutoff that test within it. The prefix's neighbours and shifts stay where
// the refresh wrote them: the neighbour row begins at a fixed place in the buffer and the
// centre row, in front of it, is the one rewritten each step (runs of one centre: a fill).
// The prefix only shrinks between refreshes (the drift used is the largest seen), so the
// tested pairs appended behind it never overwrite a part of it still in use.
// Edges are grouped by centre within the inner part and each band, not overall: contract
// 2 asks for no order.
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
  void lay_out(const NearPairs &near, const int *ilist, const double *x, const int *owner_of);
  void narrow_bands(const NearPairs &near, double cutoff);
  int64_t test_bands(const double *x, double cutoff_sq);
  void write_centres(int64_t *centre) const;

  torch::Tensor buffer_;          // centre row ends and neighbour row starts at row_start_
  int64_t row_start_ = 0;
  std::vector<double> shifts_;    // (E, 3), Angstrom; the prefix's rows written per refresh
  std::vector<std::pair<int, int>> inner_runs_;    // (centre, how many inner edges)
  std::vector<int> band_centre_, band_atom_;       // shell pairs in band order (LAMMPS indices)
  std::vector<int64_t> band_start_;                // band b: [band_start_[b], band_start_[b + 1])
  std::vector<int> within_;       // scratch: this step's tested pairs within the cutoff
  int64_t inner_ = 0, count_ = 0;
  int sure_bands_ = 0;            // bands [0, sure_bands_) are edges without a test
  int tested_end_ = 0;            // bands [sure_bands_, tested_end_) are tested, the rest not
  int64_t generation_ = -1, owner_version_ = -1;
  bool owner_graph_ = false;
  bool shifts_zero_ = true;       // shifts_ holds zeros only
  double box_[6] = {0, 0, 0, 0, 0, 0};
};

}    // namespace lmp_bench

#endif
