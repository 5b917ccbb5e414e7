// mlff_halo_check <width>: checks the halo exchange of the current pair_style mlff.
//
// Fills the owned rows of the exchange buffer with values that depend on the atom ID only,
// runs the forward exchange and counts ghost rows that differ from their owner's values;
// then checks that forward and reverse exchanges are exact transposes,
// <fwd(a), b> = <a, rev(b)> summed over ranks, for a field b that differs on every row
// (ghosts included). Prints both to the log; an error if either check fails.
// Run it after a `run 0` (the ghosts and exchange plans must exist).
#include "pair_mlff.h"

#include "atom.h"
#include "comm.h"
#include "command.h"
#include "error.h"
#include "force.h"
#include "utils.h"

#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace LAMMPS_NS {

namespace {

// A deterministic value in [-1, 1) from integers (splitmix64 of their combination).
double field_value(uint64_t a, uint64_t b, uint64_t c)
{
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b * 0xBF58476D1CE4E5B9ULL + c * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 4503599627370496.0 - 1.0;
}

}    // namespace

class MlffHaloCheck : public Command {
 public:
  explicit MlffHaloCheck(LAMMPS *lmp) : Command(lmp) {}

  void command(int narg, char **arg) override
  {
    if (narg != 1) error->all(FLERR, "Illegal mlff_halo_check command: use 'mlff_halo_check <width>'");
    const int width = utils::inumeric(FLERR, arg[0], false, lmp);
    auto *pair = dynamic_cast<PairMLFF *>(force->pair_match("^mlff", 0));
    if (pair == nullptr) error->all(FLERR, "mlff_halo_check needs pair_style mlff");
    if (width < 1 || width > pair->comm_forward)
      error->all(FLERR, "mlff_halo_check width {} must be between 1 and the model's largest halo "
                        "width {} (a contract-3 model sets it)",
                 width, pair->comm_forward);
    const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
    const tagint *tag = atom->tag;
    // all rows in one array of doubles, owned then ghost, `width` values each
    std::vector<double> rows(static_cast<size_t>(nall) * width, 0.0);
    PairMLFF::HaloRows layout;
    layout.owned = reinterpret_cast<char *>(rows.data());
    layout.owned_stride = layout.row_bytes = width * sizeof(double);
    layout.ghost = reinterpret_cast<char *>(rows.data() + static_cast<size_t>(nlocal) * width);
    layout.slots = width;

    // forward: every ghost row equals its owner's, which depends on the atom ID only
    for (int i = 0; i < nlocal; i++)
      for (int k = 0; k < width; k++) rows[static_cast<size_t>(i) * width + k] = field_value(tag[i], k, 1);
    pair->halo_forward(layout);
    long wrong = 0;
    double fwd_dot_b = 0.0;
    for (int i = 0; i < nall; i++)
      for (int k = 0; k < width; k++) {
        const double value = rows[static_cast<size_t>(i) * width + k];
        if (value != field_value(tag[i], k, 1)) wrong++;
        fwd_dot_b += value * field_value(i, k, 1000 + comm->me);
      }
    // reverse: b on every row, summed into the owned rows
    for (int i = 0; i < nall; i++)
      for (int k = 0; k < width; k++)
        rows[static_cast<size_t>(i) * width + k] = field_value(i, k, 1000 + comm->me);
    pair->halo_reverse(layout);
    double a_dot_rev_b = 0.0;
    for (int i = 0; i < nlocal; i++)
      for (int k = 0; k < width; k++)
        a_dot_rev_b += field_value(tag[i], k, 1) * rows[static_cast<size_t>(i) * width + k];

    double sums[2] = {fwd_dot_b, a_dot_rev_b}, totals[2];
    MPI_Allreduce(sums, totals, 2, MPI_DOUBLE, MPI_SUM, world);
    long wrong_total = 0;
    MPI_Allreduce(&wrong, &wrong_total, 1, MPI_LONG, MPI_SUM, world);
    const double difference = std::fabs(totals[0] - totals[1]) / std::max(1.0, std::fabs(totals[0]));
    if (comm->me == 0)
      utils::logmesg(lmp, "mlff_halo_check: width {}, {} ghost values differ from their owner; "
                          "<fwd(a), b> = {:.17g}, <a, rev(b)> = {:.17g}, relative difference {:.3g}\n",
                     width, wrong_total, totals[0], totals[1], difference);
    if (wrong_total > 0 || difference > 1e-12)
      error->all(FLERR, "mlff_halo_check failed: the halo exchange is not exact");
  }
};

}    // namespace LAMMPS_NS

namespace LAMMPS_NS {
Command *create_mlff_halo_check(LAMMPS *lmp)
{
  return new MlffHaloCheck(lmp);
}
}    // namespace LAMMPS_NS
