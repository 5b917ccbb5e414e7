"""A bonded force field for C, H, N, O molecules that finds its bonds from distances: a
test model that holds alanine dipeptide together at 2-fs steps and 300 K.

Not a physical force field. It lets metadynamics through LAMMPS run end to end on a
peptide that stays whole. LAMMPS reorders atoms between steps and ranks, so no topology
can be stored by atom index: every term of atom i's energy is computed from the edges of
i alone (what i sees within its cutoff, ``num_layers = 1``), so the model runs exactly on
any number of MPI ranks.

Terms of the energy of centre atom i (pair terms are shared half and half by their ends):

- bond order ``s_ij``: 1 below ``r_on``, 0 above ``r_off`` (C2 smootherstep between) for
  the element pairs in ``BONDS``; coordination ``n_i = sum_j s_ij``;
- bonds ``s_ij (k/2 x^2 + q/4 x^4 - D)``, x = r - r0: harmonic near r0, stiffened so that
  reaching r_on costs ``STRETCH_TO_BREAK``; D is deep enough that the energy rises all the
  way to 0 (a broken bond) at r_off;
- angles ``K_i g_j g_k (cos theta_jik - c0(n_i))^2`` over pairs of bonded neighbours, with
  the VSEPR angle of the centre's coordination: cos c0 = -1/(n - 1), so 109.5 deg for four
  neighbours, 120 deg (planar) for three, 180 deg for two;
- amide torsion ``K sin^2(omega) sin^2(theta_1) sin^2(theta_2)`` over torsions j-i-k-l
  about bonds between two three-coordinated (sp2) atoms: keeps peptide groups planar (cis
  or trans); a polynomial in the vectors over bond lengths, smooth at any geometry;
- repulsion ``eps ((sigma/r)^6 - 1)^2`` below sigma between atoms neither bonded nor
  sharing a bonded neighbour (1-4 and further pairs), so that atoms do not clash and a
  non-bonded pair never comes close enough to bond. 1-3 pairs are left to the angles:
  closing an angle until its ends start to bond costs >= 1 eV (40 kT) for every angle
  of alanine dipeptide.

Backbone dihedrals (phi, psi) have no torsion term: their free energy comes from the
repulsion alone (mostly flat, walls where atoms clash). X-H bonds and H angles are softened
(shortest period ~21 fs, twice a real C-H stretch) so 2-fs Verlet steps stay stable
without constraints.

Each centre's edges go into ``max_neighbours`` slots (a fixed-width table built with index
operations, so the module scripts with TorchScript and traces with dynamic sizes for
AOTInductor); a centre with more neighbours than slots gets a NaN energy.
"""

from __future__ import annotations

import torch

# element pair -> (r0 A, k eV/A^2, r_on A, r_off A). Lengths: Engh & Huber (C-N between
# the peptide's 1.335 and the amine's 1.458 A). Heavy-atom bonds have the stiffness of real
# single bonds (~30 eV/A^2, periods 25-30 fs); X-H bonds are softened ~4x (period ~21 fs).
BONDS: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("C", "C"): (1.525, 30.0, 1.775, 1.975),
    ("C", "N"): (1.40, 30.0, 1.65, 1.85),
    ("C", "O"): (1.229, 30.0, 1.479, 1.679),
    ("C", "H"): (1.09, 8.0, 1.45, 1.69),
    ("H", "N"): (1.01, 8.0, 1.37, 1.61),
}
STRETCH_TO_BREAK = 1.2  # eV at r_on: ~46 kT at 300 K, never reached by thermal motion
BROKEN_BOND_MARGIN = 1.0  # eV: D = stretch energy at r_off + this
ANGLE_CENTRE = {"C": 1.2, "N": 1.2}  # K of the centre element, eV
ANGLE_END = {"H": 1.0, "C": 1.5, "N": 1.5, "O": 1.5}  # factor g of each end's element
AMIDE_TORSION = 0.4  # K, eV: 4 torsions x 0.4 x 0.75^2: ~0.9 eV to twist an amide
REPULSION_EPSILON = 0.05  # eV
REPULSION_SIGMA = (2.7, 2.3, 1.9)  # A, pairs with 0, 1 or 2 H atoms
SLOT_DISTANCE = 100.0  # A: empty neighbour slots sit at least this far away


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = torch.clamp(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def vsepr_cosine(coordination: torch.Tensor) -> torch.Tensor:
    """cos of the ideal angle for a centre with `coordination` neighbours: -1/(n - 1) at
    n = 2, 3, 4, C1-smooth in between, constant outside."""
    return (
        -1.0 + 0.5 * _smoothstep(coordination - 2.0) + (1.0 / 6.0) * _smoothstep(coordination - 3.0)
    )


def sp2_weight(coordination: torch.Tensor) -> torch.Tensor:
    """1 for three neighbours, 0 for two or four (and beyond), smooth in between."""
    t = torch.clamp(coordination - 3.0, -1.0, 1.0)
    return (1.0 - t * t) ** 2


class BondedOrganic(torch.nn.Module):
    """Bonds, VSEPR angles, amide torsions and repulsion for C, H, N, O, all found from
    distances (see the module docstring). Energies eV, lengths A."""

    def __init__(
        self,
        species: tuple[str, ...] = ("C", "H", "N", "O"),
        cutoff: float = 3.5,
        max_neighbours: int = 24,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = 1
        self.max_neighbours = int(max_neighbours)
        self.n_species = len(self.species)
        self.k_torsion = AMIDE_TORSION
        self.slot_distance = SLOT_DISTANCE
        self.epsilon = REPULSION_EPSILON
        # per element pair: r0, k, q, D, sigma; and r_on, 1/(r_off - r_on) of the bond
        # order. Pairs that never bond get r_on = -2 A: their bond order is 0 everywhere.
        pairs = torch.zeros(self.n_species, self.n_species, 5, dtype=torch.float64)
        switch = torch.zeros(self.n_species, self.n_species, 2, dtype=torch.float64)
        switch[:, :, 0], switch[:, :, 1] = -2.0, 1.0
        for a, first in enumerate(self.species):
            for b, second in enumerate(self.species):
                pairs[a, b, 4] = REPULSION_SIGMA[(first == "H") + (second == "H")]
                params = BONDS.get((min(first, second), max(first, second)))
                if params is None:
                    continue
                r0, k, r_on, r_off = params
                x_on, x_off = r_on - r0, r_off - r0
                q = 4.0 * (STRETCH_TO_BREAK - 0.5 * k * x_on**2) / x_on**4
                depth = 0.5 * k * x_off**2 + 0.25 * q * x_off**4 + BROKEN_BOND_MARGIN
                pairs[a, b, :4] = torch.tensor([r0, k, q, depth], dtype=torch.float64)
                switch[a, b] = torch.tensor([r_on, 1.0 / (r_off - r_on)], dtype=torch.float64)
        self.register_buffer("pair_table", pairs.reshape(-1, 5))
        self.register_buffer("switch_table", switch.reshape(-1, 2))
        self.register_buffer(
            "k_angle",
            torch.tensor([ANGLE_CENTRE.get(s, 0.0) for s in self.species], dtype=torch.float64),
        )
        self.register_buffer(
            "angle_end",
            torch.tensor([ANGLE_END.get(s, 1.0) for s in self.species], dtype=torch.float64),
        )

    def neighbour_slots(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each centre's edges as a (N, M) table: vectors (N, M, 3) (empty slots far away),
        neighbour species (N, M), and whether a centre had more edges than slots (N,)."""
        num_nodes = species.shape[0]
        slots = self.max_neighbours
        centre = edge_index[0]
        order = torch.argsort(centre, stable=True)
        sorted_centre = centre[order]
        counts = torch.zeros(num_nodes, dtype=torch.long, device=centre.device)
        counts = counts.index_add(0, centre, torch.ones_like(centre))
        first = torch.cumsum(counts, 0) - counts
        rank = torch.arange(centre.shape[0], device=centre.device) - first[sorted_centre]
        spill = num_nodes * slots  # one extra row takes the edges that do not fit
        target = sorted_centre * slots + rank
        target = torch.where(rank < slots, target, torch.full_like(rank, spill))
        vectors = torch.zeros(spill + 1, 3, dtype=edge_vectors.dtype, device=edge_vectors.device)
        vectors = vectors.index_add(0, target, edge_vectors[order])
        filled = torch.zeros(spill + 1, dtype=torch.long, device=centre.device)
        filled = filled.index_add(0, target, torch.ones_like(target))
        kind = torch.zeros(spill + 1, dtype=torch.long, device=centre.device)
        kind = kind.index_add(0, target, species[edge_index[1][order]])
        filled = filled[:spill].reshape(num_nodes, slots) > 0
        # empty slot m sits at x = SLOT_DISTANCE + m: every distance stays finite and large
        far = self.slot_distance + torch.arange(
            slots, dtype=edge_vectors.dtype, device=edge_vectors.device
        )
        x_axis = torch.tensor([1.0, 0.0, 0.0], dtype=edge_vectors.dtype, device=far.device)
        vectors = vectors[:spill].reshape(num_nodes, slots, 3)
        vectors = torch.where(filled.unsqueeze(2), vectors, far.view(1, slots, 1) * x_axis)
        return vectors, kind[:spill].reshape(num_nodes, slots), counts > slots

    def bond_order(self, pair: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """s(r) of element pairs `pair`: 1 below r_on, 0 above r_off (and for empty slots,
        which sit beyond every r_off), C2 smootherstep between."""
        switch = self.switch_table[pair]
        t = torch.clamp((r - switch[..., 0]) * switch[..., 1], 0.0, 1.0)
        return 1.0 - t * t * t * (10.0 + t * (6.0 * t - 15.0))

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        n = self.n_species
        vectors, kind, overflow = self.neighbour_slots(species, edge_index, edge_vectors)
        r = torch.sqrt((vectors * vectors).sum(2))  # (N, M)
        pair = species.unsqueeze(1) * n + kind  # (N, M) element-pair index
        r0, k, q, depth, sigma = self.pair_table[pair].unbind(2)
        s = self.bond_order(pair, r)
        coordination = s.sum(1)  # (N,)
        x2 = (r - r0) ** 2
        energy = 0.5 * (s * (x2 * (0.5 * k + 0.25 * q * x2) - depth)).sum(1)

        # the bonded neighbours (at most four; the other slots chosen have order 0)
        s_b, slot_b = torch.topk(s, 4, dim=1)  # (N, 4)
        vec_b = torch.gather(vectors, 1, slot_b.unsqueeze(2).expand(-1, -1, 3))
        kind_b = torch.gather(kind, 1, slot_b)
        r_b = torch.gather(r, 1, slot_b)
        energy = energy + self.angles(species, coordination, s_b, vec_b / r_b.unsqueeze(2), kind_b)

        # vectors and bond orders from each bonded neighbour k to every neighbour l
        between = vectors.unsqueeze(1) - vec_b.unsqueeze(2)  # (N, 4, M, 3)
        slot_ids = torch.arange(vectors.shape[1], device=vectors.device).view(1, 1, -1)
        d2 = (between * between).sum(3)
        d2 = torch.where(slot_b.unsqueeze(2) == slot_ids, torch.full_like(d2, 1.0e4), d2)
        d_kl = torch.sqrt(d2)  # (N, 4, M); l = k itself is put 100 A away
        s_kl = self.bond_order(kind_b.unsqueeze(2) * n + kind.unsqueeze(1), d_kl)

        energy = energy + self.amide_torsions(coordination, s_b, vec_b, r_b, between, d_kl, s_kl)
        energy = energy + self.repulsion(r, sigma, s, s_b, s_kl)
        # a centre whose edges did not all fit: NaN energy and forces, not wrong numbers
        return energy * torch.where(overflow, torch.full_like(energy, float("nan")), 1.0)

    def angles(
        self,
        species: torch.Tensor,
        coordination: torch.Tensor,
        s_b: torch.Tensor,
        unit_b: torch.Tensor,
        kind_b: torch.Tensor,
    ) -> torch.Tensor:
        """Sum over pairs j != k of bonded neighbours of K_i g_j g_k (cos - c0(n_i))^2."""
        cosine = (unit_b.unsqueeze(2) * unit_b.unsqueeze(1)).sum(3)  # (N, 4, 4)
        ideal = vsepr_cosine(coordination).view(-1, 1, 1)
        end = self.angle_end[kind_b] * s_b
        off_diagonal = 1.0 - torch.eye(4, dtype=cosine.dtype, device=cosine.device)
        terms = end.unsqueeze(2) * end.unsqueeze(1) * off_diagonal * (cosine - ideal) ** 2
        return 0.5 * self.k_angle[species] * terms.sum((1, 2))

    def amide_torsions(
        self,
        coordination: torch.Tensor,
        s_b: torch.Tensor,
        vec_b: torch.Tensor,
        r_b: torch.Tensor,
        between: torch.Tensor,
        d_kl: torch.Tensor,
        s_kl: torch.Tensor,
    ) -> torch.Tensor:
        """Half of K sin^2(omega) sin^2(theta_1) sin^2(theta_2) for each torsion j-i-k-l about
        a bond i-k between sp2 atoms (the other half is counted from k). With the plane
        normals a = v_j x v_k and b = v_k x v_kl, that is (|a|^2 |b|^2 - (a.b)^2) /
        (r_j^2 r_k^4 r_kl^2): no division by a sine, smooth at any geometry."""
        coordination_k = s_b + s_kl.sum(2)  # (N, 4): k's bond to i and to i's other neighbours
        sp2 = sp2_weight(coordination).unsqueeze(1) * sp2_weight(coordination_k)  # (N, 4[k])
        # the (at most three) atoms l bonded to k other than i
        s_l, slot_l = torch.topk(s_kl, 3, dim=2)  # (N, 4[k], 3[l])
        v_kl = torch.gather(between, 2, slot_l.unsqueeze(3).expand(-1, -1, -1, 3))
        r_kl = torch.gather(d_kl, 2, slot_l)
        a = torch.linalg.cross(vec_b.unsqueeze(2), vec_b.unsqueeze(1), dim=-1)  # (N, j, k, 3)
        b = torch.linalg.cross(vec_b.unsqueeze(2).expand_as(v_kl), v_kl, dim=-1)  # (N, k, l, 3)
        a_dot_b = torch.einsum("njkc,nklc->njkl", a, b)
        a2 = (a * a).sum(3)
        b2 = (b * b).sum(3)
        r2 = r_b * r_b
        sines = (a2.unsqueeze(3) * b2.unsqueeze(1) - a_dot_b * a_dot_b) / (
            r2.view(-1, 4, 1, 1) * (r2 * r2).view(-1, 1, 4, 1) * (r_kl * r_kl).unsqueeze(1)
        )
        off_diagonal = 1.0 - torch.eye(4, dtype=sines.dtype, device=sines.device)
        weight = (
            s_b.view(-1, 4, 1, 1)
            * off_diagonal.view(1, 4, 4, 1)
            * (s_b * sp2).view(-1, 1, 4, 1)
            * s_l.unsqueeze(1)
        )
        return 0.5 * self.k_torsion * (weight * sines).sum((1, 2, 3))

    def repulsion(
        self,
        r: torch.Tensor,
        sigma: torch.Tensor,
        s: torch.Tensor,
        s_b: torch.Tensor,
        s_kl: torch.Tensor,
    ) -> torch.Tensor:
        """Half of eps ((sigma/r)^6 - 1)^2 below sigma between the centre and each
        neighbour that is neither bonded to it (1 - s_ij) nor bonded to one of its bonded
        neighbours k (prod_k 1 - s_ik s_kj); continuous force at sigma."""
        not_13 = torch.prod(1.0 - s_b.unsqueeze(2) * s_kl, dim=1)  # (N, M)
        x3 = torch.clamp(sigma / r, min=1.0) ** 3
        wall = self.epsilon * (x3 * x3 - 1.0) ** 2
        return 0.5 * ((1.0 - s) * not_13 * wall).sum(1)
