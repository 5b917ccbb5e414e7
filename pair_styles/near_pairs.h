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
// The rest (the shell, between cutoff - margin and cutoff + margin) is sorted into kBands
// bands of equal width by distance at the refresh, and `drift` bounds how far any pair's
// distance has moved since: a band wholly below cutoff - drift holds edges only, a band
// wholly beyond cutoff + drift none, so a step tests only the bands in between.
class NearPairs {
 public:
  // Refresh from `list` (its first `listed` atoms of ilist) if it is stale. `x`: the
  // positions of all `nall` local and ghost atoms, the first `nlocal` owned; `builds`:
  // LAMMPS's count of list builds. `ghosts_are_images`: every ghost is a periodic image of
  // an owned atom (one rank), so while the box (`box`, LAMMPS's h) stays as it was at the
  // refresh a ghost moves as its owner does and only owned atoms need watching.
  void update(const LAMMPS_NS::NeighList *list, int listed, const double *x, int nlocal,
              int nall, bool ghosts_are_images, const double *box, double cutoff, double margin,
              int64_t builds);

  // the neighbours of the ii-th listed atom within cutoff + margin at the last refresh
  const int *neighbours(int ii) const { return pairs_.data() + start_[ii]; }
  int count(int ii) const { return static_cast<int>(start_[ii + 1] - start_[ii]); }
  // how many of them (the first) were within cutoff - margin
  int inner(int ii) const { return inner_[ii]; }
  // the band of each of them past the inner ones: band b holds the pairs whose distance at
  // the refresh lay in [band_lower(b), band_lower(b + 1)), Angstrom
  const uint8_t *bands(int ii) const { return bands_.data() + start_[ii]; }
  static constexpr int kBands = 16;
  double band_lower(int b) const { return cutoff_ - margin_ + b * 2.0 * margin_ / kBands; }
  // a bound on how far any pair's distance has moved since the refresh (Angstrom): twice
  // the largest displacement of an atom, the largest seen since the refresh
  double drift() const { return drift_; }
  int listed() const { return listed_; }
  int64_t total() const { return start_.empty() ? 0 : start_.back(); }
  // counts every refresh (never reset): a change means the lists above changed
  int64_t generation() const { return generation_; }
  // refreshes since the last reset, and how many of them followed a LAMMPS list build
  int64_t refreshes() const { return refreshes_; }
  int64_t refreshes_after_builds() const { return after_builds_; }
  void reset_counts() { refreshes_ = after_builds_ = 0; }

 private:
  double largest_displacement_sq(const double *x, int nall) const;

  std::vector<int64_t> start_;    // pairs_[start_[ii], start_[ii + 1]): atom ii's neighbours
  std::vector<int> pairs_;
  std::vector<int> inner_;    // atom ii's first inner_[ii] neighbours are within cutoff - margin
  std::vector<uint8_t> bands_;    // for each pair past the inner ones, its band
  std::vector<int> shell_;    // scratch: one atom's neighbours beyond cutoff - margin
  std::vector<double> shell_r_sq_;    // scratch: their squared distances
  std::vector<double> x_refreshed_;    // positions at the last refresh
  double box_refreshed_[6] = {0, 0, 0, 0, 0, 0};
  int64_t builds_ = -1;
  int listed_ = -1;
  double cutoff_ = -1.0, margin_ = -1.0, drift_ = 0.0;
  int64_t refreshes_ = 0, after_builds_ = 0, generation_ = 0;
};

}    // namespace lmp_bench

#endif
