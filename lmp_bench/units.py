"""Unit conversions used across the package (LAMMPS metal units: eV, A, ps)."""

KCAL_PER_MOL_IN_EV = 0.0433641043  # 4184 J / (96485.33212 C/mol x 1 V)
ANGSTROM2_PER_PS_IN_M2_PER_S = 1e-8  # 1 A^2/ps = 1e-20 m^2 / 1e-12 s
EV_PER_A3_IN_BAR = 1.602176634e6  # 1 eV/A^3 = 1.602176634e-19 J / 1e-30 m^3, in 1e5 Pa
