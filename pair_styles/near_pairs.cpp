#include "near_pairs.h"

#include "lmptype.h"
#include "neigh_list.h"

#include <algorithm>
#include <cmath>

using namespace LAMMPS_NS;

namespace lmp_bench {

void NearPairs::update(const NeighList *list, int listed, const double *x, int nlocal,
                       int nall, bool ghosts_are_images, const double *box, double cutoff,
                       double margin, int64_t builds)
{
  const bool same_list = builds == builds_ && listed == listed_ && cutoff == cutoff_ &&
      margin == margin_ && 3 * static_cast<size_t>(nall) == x_refreshed_.size();
  if (same_list) {
    // No pair's distance has changed by more than twice the largest displacement. The
    // slack covers rounding: an image's displacement equals its owner's to ~1e-14 A.
    const bool watch_owned = ghosts_are_images && std::equal(box, box + 6, box_refreshed_);
    const double drift = 2.0 * std::sqrt(largest_displacement_sq(x, watch_owned ? nlocal : nall));
    drift_ = std::max(drift_, drift);
    if (drift_ <= margin - 1e-9) return;
  }
  drift_ = 0.0;
  std::copy(box, box + 6, box_refreshed_);
  after_builds_ += builds != builds_;
  builds_ = builds;
  listed_ = listed;
  cutoff_ = cutoff;
  margin_ = margin;
  x_refreshed_.assign(x, x + 3 * static_cast<size_t>(nall));
  refreshes_++;
  generation_++;
  const double reach_sq = (cutoff + margin) * (cutoff + margin);
  const double inner_sq = cutoff > margin ? (cutoff - margin) * (cutoff - margin) : -1.0;
  const double bands_per_angstrom = kBands / (2.0 * margin);
  start_.resize(listed + 1);
  inner_.resize(listed);
  start_[0] = 0;
  int64_t kept = 0;
  for (int ii = 0; ii < listed; ii++) {
    const int i = list->ilist[ii];
    const double xi = x[3 * i], yi = x[3 * i + 1], zi = x[3 * i + 2];
    const int *jlist = list->firstneigh[i];
    const int candidates = list->numneigh[i];
    if (static_cast<int64_t>(pairs_.size()) < kept + candidates) {
      pairs_.resize(2 * (kept + candidates));
      bands_.resize(pairs_.size());
    }
    if (static_cast<int>(shell_.size()) < candidates) {
      shell_.resize(candidates);
      shell_r_sq_.resize(candidates);
    }
    // each candidate is written to both lists, and the counts advance past the kept ones
    // (no branch to mispredict)
    int *inner = pairs_.data() + kept;
    int *shell = shell_.data();
    double *shell_r_sq = shell_r_sq_.data();
    int inner_count = 0, shell_count = 0;
    for (int jj = 0; jj < candidates; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const double dx = x[3 * j] - xi, dy = x[3 * j + 1] - yi, dz = x[3 * j + 2] - zi;
      const double r_sq = dx * dx + dy * dy + dz * dz;
      inner[inner_count] = j;
      shell[shell_count] = j;
      shell_r_sq[shell_count] = r_sq;
      inner_count += r_sq < inner_sq ? 1 : 0;
      shell_count += static_cast<int>(r_sq >= inner_sq) & static_cast<int>(r_sq < reach_sq);
    }
    inner_[ii] = inner_count;
    std::copy(shell, shell + shell_count, inner + inner_count);
    uint8_t *band = bands_.data() + kept + inner_count;
    for (int k = 0; k < shell_count; k++) {
      const int b = static_cast<int>((std::sqrt(shell_r_sq[k]) - (cutoff - margin)) * bands_per_angstrom);
      band[k] = static_cast<uint8_t>(std::clamp(b, 0, kBands - 1));
    }
    kept += inner_count + shell_count;
    start_[ii + 1] = kept;
  }
}

double NearPairs::largest_displacement_sq(const double *x, int nall) const
{
  const double *x0 = x_refreshed_.data();
  double largest = 0.0;
  for (int k = 0; k < nall; k++) {
    const double dx = x[3 * k] - x0[3 * k], dy = x[3 * k + 1] - x0[3 * k + 1],
                 dz = x[3 * k + 2] - x0[3 * k + 2];
    largest = std::max(largest, dx * dx + dy * dy + dz * dz);
  }
  return largest;
}

}    // namespace lmp_bench
