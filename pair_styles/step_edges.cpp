#include "step_edges.h"

#include <algorithm>
#include <cstring>

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
    write_inner(near, ilist, x, owner_of);
  }
  const int64_t within = test_shell(x, cutoff * cutoff);
  const int64_t n = inner_ + within;
  // the tested pairs within the cutoff go behind the inner edges, in both rows
  int64_t *__restrict centre = buffer_.data_ptr<int64_t>();
  int64_t *__restrict neighbour = centre + n;
  double *__restrict shift = shifts_.data();
  const int *__restrict shell_centre = shell_centre_.data();
  const int *__restrict shell_atom = shell_atom_.data();
  std::memcpy(neighbour, inner_neighbour_.data(), inner_ * sizeof(int64_t));
  for (int64_t k = 0; k < within; k++) {
    const int s = within_[k];
    const int j = shell_atom[s];
    centre[inner_ + k] = shell_centre[s];
    if (owner_graph) {
      const int o = owner_of[j];
      neighbour[inner_ + k] = o;
      for (int d = 0; d < 3; d++) shift[3 * (inner_ + k) + d] = x[3 * j + d] - x[3 * o + d];
    } else {
      neighbour[inner_ + k] = j;
    }
  }
  count_ = n;
  return buffer_.narrow(0, 0, 2 * n).view({2, n});
}

// Which of the pairs near the cutoff are within it, into within_; their count. Every pair is
// written, the count advances past those within (no branch to mispredict).
int64_t StepEdges::test_shell(const double *__restrict x, double cutoff_sq)
{
  const int *__restrict shell_centre = shell_centre_.data();
  const int *__restrict shell_atom = shell_atom_.data();
  int *__restrict within = within_.data();
  const int tested = static_cast<int>(shell_atom_.size());
  int64_t count = 0;
  for (int s = 0; s < tested; s++) {
    const int i = shell_centre[s], j = shell_atom[s];
    const double dx = x[3 * j] - x[3 * i], dy = x[3 * j + 1] - x[3 * i + 1],
                 dz = x[3 * j + 2] - x[3 * i + 2];
    within[count] = s;
    count += (dx * dx + dy * dy + dz * dz < cutoff_sq) ? 1 : 0;
  }
  return count;
}

// The pairs within cutoff - margin at NearPairs' refresh into the front of the buffers, the
// others into the list tested each step.
void StepEdges::write_inner(const NearPairs &near, const int *ilist, const double *x,
                            const int *owner_of)
{
  const int64_t capacity = near.total();
  if (buffer_.numel() < 2 * capacity)
    buffer_ = torch::empty({2 * capacity + 1024}, torch::TensorOptions().dtype(torch::kInt64));
  if (static_cast<int64_t>(shifts_.size()) < 3 * capacity) shifts_.resize(3 * capacity + 1536);
  if (!owner_of && !shifts_zero_) std::fill(shifts_.begin(), shifts_.end(), 0.0);
  shifts_zero_ = !owner_of;
  int64_t *centre = buffer_.data_ptr<int64_t>();
  inner_neighbour_.clear();
  shell_centre_.clear();
  shell_atom_.clear();
  for (int ii = 0; ii < near.listed(); ii++) {
    const int i = ilist[ii];
    const int *neighbours = near.neighbours(ii);
    for (int k = 0; k < near.inner(ii); k++) {
      const int j = neighbours[k];
      const int node = owner_of ? owner_of[j] : j;
      const int64_t e = static_cast<int64_t>(inner_neighbour_.size());
      centre[e] = i;
      inner_neighbour_.push_back(node);
      if (owner_of)
        for (int d = 0; d < 3; d++) shifts_[3 * e + d] = x[3 * j + d] - x[3 * node + d];
    }
    for (int k = near.inner(ii); k < near.count(ii); k++) {
      shell_centre_.push_back(i);
      shell_atom_.push_back(neighbours[k]);
    }
  }
  inner_ = static_cast<int64_t>(inner_neighbour_.size());
  within_.resize(shell_atom_.size());
}

}    // namespace lmp_bench
