#ifndef LMP_BENCH_NEAR_PAIRS_H
#define LMP_BENCH_NEAR_PAIRS_H

#include <cstdint>
#include <vector>

namespace LAMMPS_NS {
class NeighList;
}

namespace lmp_bench {

// A Verlet list inside LAMMPS's: the neighbours within cutoff + margin, taken from LAMMPS's
// list (cutoff + skin) and kept until LAMMPS rebuilds its list or an atom has moved more
// than margin / 2. Each step's cutoff test then runs over fewer candidates: with LAMMPS's
// 2 A skin, a 5 A cutoff has 2.7x more pairs within cutoff + skin than within the cutoff.
// Exact: a pair beyond cutoff + margin at the last refresh cannot come within the cutoff
// before one of its atoms has moved margin / 2. Likewise a pair within cutoff - margin stays
// within the cutoff until the next refresh: those come first in each atom's neighbours
// (`inner`), so each step's edge list need test only the rest (step_edges.h).
class NearPairs {
 public:
  // Refresh from `list` (its first `listed` atoms of ilist) if it is stale. `x`: the
  // positions of all `nall` local and ghost atoms; `builds`: LAMMPS's count of list builds.
  void update(const LAMMPS_NS::NeighList *list, int listed, const double *x, int nall,
              double cutoff, double margin, int64_t builds);

  // the neighbours of the ii-th listed atom within cutoff + margin at the last refresh
  const int *neighbours(int ii) const { return pairs_.data() + start_[ii]; }
  int count(int ii) const { return static_cast<int>(start_[ii + 1] - start_[ii]); }
  // how many of them (the first) were within cutoff - margin
  int inner(int ii) const { return inner_[ii]; }
  int listed() const { return listed_; }
  int64_t total() const { return start_.empty() ? 0 : start_.back(); }
  // counts every refresh (never reset): a change means the lists above changed
  int64_t generation() const { return generation_; }
  // refreshes since the last reset, and how many of them followed a LAMMPS list build
  int64_t refreshes() const { return refreshes_; }
  int64_t refreshes_after_builds() const { return after_builds_; }
  void reset_counts() { refreshes_ = after_builds_ = 0; }

 private:
  bool moved_too_far(const double *x, int nall) const;

  std::vector<int64_t> start_;    // pairs_[start_[ii], start_[ii + 1]): atom ii's neighbours
  std::vector<int> pairs_;
  std::vector<int> inner_;    // atom ii's first inner_[ii] neighbours are within cutoff - margin
  std::vector<int> shell_;    // scratch: one atom's neighbours beyond cutoff - margin
  std::vector<double> x_refreshed_;    // positions at the last refresh
  int64_t builds_ = -1;
  int listed_ = -1;
  double cutoff_ = -1.0, margin_ = -1.0;
  int64_t refreshes_ = 0, after_builds_ = 0, generation_ = 0;
};

}    // namespace lmp_bench

#endif
