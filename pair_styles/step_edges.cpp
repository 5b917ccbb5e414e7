#include "step_edges.h"

#include <algorithm>

namespace lmp_bench {

torch::Tensor StepEdges::build(const NearPairs &near, const int *ilist, const double *x,
                               double cutoff, const int *owner_of, int64_t owner_version,
                               const double *box)
{
  const bool owner_graph = owner_of != nullptr;
  const bool same_box = !owner_graph || std::equal(box, box + 6, box_);
  if (near.generation() != generation_ || owner_graph != owner_graph_ ||
      (owner_graph && owner_version != owner_version_) || !same_box) {
    generation_ = near.generation();
    owner_graph_ = owner_graph;
    owner_version_ = owner_version;
    if (owner_graph) std::copy(box, box + 6, box_);
    lay_out(near, ilist, x, owner_of);
  }
  narrow_bands(near, cutoff);
  const int64_t prefix = inner_ + band_start_[sure_bands_];
  const int64_t within = test_bands(x, cutoff * cutoff);
  const int64_t n = prefix + within;
  int64_t *__restrict centre = buffer_.data_ptr<int64_t>() + row_start_ - n;
  int64_t *__restrict neighbour = buffer_.data_ptr<int64_t>() + row_start_;
  double *__restrict shift = shifts_.data();
  write_centres(centre);
  // the tested pairs within the cutoff go behind the prefix, in both rows
  for (int64_t k = 0; k < within; k++) {
    const int s = within_[k];
    const int j = band_atom_[s];
    centre[prefix + k] = band_centre_[s];
    if (owner_graph) {
      const int o = owner_of[j];
      neighbour[prefix + k] = o;
      for (int d = 0; d < 3; d++) shift[3 * (prefix + k) + d] = x[3 * j + d] - x[3 * o + d];
    } else {
      neighbour[prefix + k] = j;
    }
  }
  count_ = n;
  return buffer_.narrow(0, row_start_ - n, 2 * n).view({2, n});
}

// Which bands need a test this step. A band wholly below cutoff - drift holds edges only,
// one wholly at or beyond cutoff + drift none; `slack` covers rounding in the distances.
// NearPairs' drift only grows between refreshes, so the prefix of sure bands only shrinks.
void StepEdges::narrow_bands(const NearPairs &near, double cutoff)
{
  const double drift = near.drift();
  const double slack = 1e-9 * std::max(1.0, cutoff);
  sure_bands_ = 0;
  while (sure_bands_ < NearPairs::kBands &&
         near.band_lower(sure_bands_ + 1) + slack <= cutoff - drift)
    sure_bands_++;
  tested_end_ = NearPairs::kBands;
  while (tested_end_ > sure_bands_ && near.band_lower(tested_end_ - 1) - slack >= cutoff + drift)
    tested_end_--;
}

// Which pairs of the tested bands are within the cutoff, into within_; their count. Every
// pair is written, the count advances past those within (no branch to mispredict).
int64_t StepEdges::test_bands(const double *__restrict x, double cutoff_sq)
{
  const int *__restrict centre = band_centre_.data();
  const int *__restrict atom = band_atom_.data();
  int *__restrict within = within_.data();
  const int64_t first = band_start_[sure_bands_], end = band_start_[tested_end_];
  int64_t count = 0;
  for (int64_t s = first; s < end; s++) {
    const int i = centre[s], j = atom[s];
    const double dx = x[3 * j] - x[3 * i], dy = x[3 * j + 1] - x[3 * i + 1],
                 dz = x[3 * j + 2] - x[3 * i + 2];
    within[count] = static_cast<int>(s);
    count += (dx * dx + dy * dy + dz * dz < cutoff_sq) ? 1 : 0;
  }
  return count;
}

// The prefix's centre row: the inner pairs' runs, then the sure bands' centres.
void StepEdges::write_centres(int64_t *__restrict centre) const
{
  int64_t e = 0;
  for (const auto &[i, count] : inner_runs_) {
    std::fill_n(centre + e, count, static_cast<int64_t>(i));
    e += count;
  }
  const int *__restrict band_centre = band_centre_.data();
  const int64_t sure = band_start_[sure_bands_];
  for (int64_t s = 0; s < sure; s++) centre[e + s] = band_centre[s];
}

// Once per refresh: every kept pair's neighbour and shift in the order inner, then bands
// nearest first; the shell pairs' centres and atoms for the tests.
void StepEdges::lay_out(const NearPairs &near, const int *ilist, const double *x,
                        const int *owner_of)
{
  const int64_t capacity = near.total();
  if (row_start_ < capacity) {
    row_start_ = capacity + 512;
    buffer_ = torch::empty({2 * row_start_}, torch::TensorOptions().dtype(torch::kInt64));
  }
  if (static_cast<int64_t>(shifts_.size()) < 3 * capacity) shifts_.resize(3 * capacity + 1536);
  if (!owner_of && !shifts_zero_) std::fill(shifts_.begin(), shifts_.end(), 0.0);
  shifts_zero_ = !owner_of;
  int64_t *neighbour = buffer_.data_ptr<int64_t>() + row_start_;
  auto place = [&](int64_t e, int j) {
    const int node = owner_of ? owner_of[j] : j;
    neighbour[e] = node;
    if (owner_of)
      for (int d = 0; d < 3; d++) shifts_[3 * e + d] = x[3 * j + d] - x[3 * node + d];
  };

  // counting sort of the shell pairs by band, each band in list order (grouped by centre)
  band_start_.assign(NearPairs::kBands + 1, 0);
  for (int ii = 0; ii < near.listed(); ii++) {
    const uint8_t *bands = near.bands(ii);
    for (int k = near.inner(ii); k < near.count(ii); k++) band_start_[bands[k] + 1]++;
  }
  for (int b = 0; b < NearPairs::kBands; b++) band_start_[b + 1] += band_start_[b];
  const int64_t shell = band_start_.back();
  band_centre_.resize(shell);
  band_atom_.resize(shell);
  std::vector<int64_t> cursor(band_start_.begin(), band_start_.end() - 1);

  inner_runs_.clear();
  int64_t e = 0;
  for (int ii = 0; ii < near.listed(); ii++) {
    const int i = ilist[ii];
    const int *neighbours = near.neighbours(ii);
    const uint8_t *bands = near.bands(ii);
    const int inner = near.inner(ii);
    if (inner > 0) inner_runs_.emplace_back(i, inner);
    for (int k = 0; k < inner; k++) place(e++, neighbours[k]);
    for (int k = inner; k < near.count(ii); k++) {
      const int64_t s = cursor[bands[k]]++;
      band_centre_[s] = i;
      band_atom_[s] = neighbours[k];
    }
  }
  inner_ = e;
  for (int64_t s = 0; s < shell; s++) place(inner_ + s, band_atom_[s]);
  within_.resize(shell);
}

}    // namespace lmp_bench
