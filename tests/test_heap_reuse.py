"""pair_style mlff keeps freed memory for the next step (pair_styles/heap_reuse.h): glibc's
own statistics (mallinfo2) show where 256 MiB of 1 MiB blocks came from and whether freeing
them gave the memory back to the kernel, with the plugin's settings and with glibc's own."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

SCRIPT = """
import ctypes, json, sys
from lmp_bench.lammps.session import start_lammps

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
lmp = start_lammps(("-screen", "none", "-log", sys.argv[2], "-nocite"))
lmp.commands_string(
    "units metal\\nregion box block 0 20 0 20 0 20\\ncreate_box 1 box\\nmass 1 39.948\\n"
    f"pair_style mlff {sys.argv[1]}\\npair_coeff * * Ar\\n"
)

def held():  # bytes from the kernel: heap (arena) and mmapped blocks (hblkhd)
    info = libc.mallinfo2()
    return {"heap": info.arena, "mmapped": info.hblkhd}

before = held()
blocks = [libc.malloc(1 << 20) for _ in range(256)]
allocated = held()
for block in reversed(blocks):
    libc.free(block)
print(json.dumps({"before": before, "allocated": allocated, "freed": held()}))
"""
MIB = 1 << 20
LIBC, LIBC_VERSION = platform.libc_ver()
HAS_MALLINFO2 = LIBC == "glibc" and tuple(map(int, LIBC_VERSION.split("."))) >= (2, 33)


def heap_use(tmp_path, model: str, tunables: str | None) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if tunables:
        env["GLIBC_TUNABLES"] = tunables
    log = tmp_path / f"log-{bool(tunables)}.lammps"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, model, str(log)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), log.read_text()


@pytest.mark.skipif(not HAS_MALLINFO2, reason="mallinfo2 needs glibc >= 2.33")
def test_plugin_keeps_freed_memory_for_the_next_step(tmp_path, lj_float32_file):
    kept, log = heap_use(tmp_path, str(lj_float32_file), None)
    assert "pair mlff: freed memory kept for the next step" in log
    grew = {k: kept["allocated"][k] - kept["before"][k] for k in ("heap", "mmapped")}
    assert grew["heap"] >= 256 * MIB and grew["mmapped"] < MIB, kept  # blocks from the heap
    assert kept["freed"]["heap"] >= kept["allocated"]["heap"], kept  # and not handed back

    # glibc's own settings (the plugin leaves them when the user set any): the same blocks
    # are handed back to the kernel when freed, to be page-faulted in again next time
    default, log = heap_use(tmp_path, str(lj_float32_file), "glibc.malloc.perturb=0")
    assert "glibc malloc settings from the environment kept" in log
    total = {k: default[k]["heap"] + default[k]["mmapped"] for k in default}
    assert total["freed"] < total["allocated"] - 128 * MIB, default
