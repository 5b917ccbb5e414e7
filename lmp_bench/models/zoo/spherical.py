"""Spherical Bessel functions and the 2-D / 3-D spherical Fourier-Bessel bases.

DimeNet (Gasteiger et al., ICLR 2020) expands (distance, angle) in
``a_ln(d, a) = sqrt(2 / (c^3 j_{l+1}(z_ln)^2)) j_l(z_ln d / c) Y_l0(a)``, with z_ln the
n-th positive root of the spherical Bessel function j_l and c the cutoff; SphereNet (Liu et
al., ICLR 2022) adds the torsion through ``Y_lm(theta, phi)``. Both multiply the radial part
by DimeNet's polynomial envelope u(d / c) so that every basis function goes smoothly to
zero at the cutoff.

The roots come from scipy when a basis is built; the forward pass is plain torch and
follows the dtype of its input. j_l is evaluated without the catastrophic cancellation of
the closed sin/cos form at small arguments (which costs float32 most of its digits for
l >= 3 at DimeNet's arguments): a power series below x = l + 1, the upward recurrence
from j_0, j_1 above.
"""

from __future__ import annotations

import functools
import math

import torch

from lmp_bench.models.zoo.common import legendre, polynomial_envelope


def bessel_roots(num_orders: int, num_roots: int) -> list[list[float]]:
    """The first `num_roots` positive roots of j_l for l = 0 .. num_orders - 1.

    Roots of j_l interlace with those of j_{l-1} (one root of j_l between two consecutive
    roots of j_{l-1}), so each order is bracketed from the previous one, starting from
    j_0 = sin x / x with roots n pi.
    """
    from scipy.optimize import brentq
    from scipy.special import spherical_jn

    previous = [math.pi * (n + 1) for n in range(num_roots + num_orders)]
    roots = [previous[:num_roots]]
    for order in range(1, num_orders):
        current = [
            brentq(lambda x, order=order: spherical_jn(order, x), a, b, xtol=1e-15, rtol=1e-15)
            for a, b in zip(previous[:-1], previous[1:], strict=True)
        ]
        roots.append(current[:num_roots])
        previous = current
    return roots


def series_coefficients(order: int) -> list[float]:
    """The Chebyshev coefficients spherical_bessel(order, ...) needs."""
    return list(_series_chebyshev(order, float(order + 1)))


@functools.lru_cache
def _series_chebyshev(order: int, switch: float, degree: int = 20) -> tuple[float, ...]:
    """Chebyshev coefficients of S(s) = (2l+1)!! j_l(x) / x^l, s = x^2 in [0, switch^2]
    (mapped to [-1, 1]); S's power series is summed in float64 to interpolate it."""
    import numpy as np
    from numpy.polynomial import chebyshev

    def series(y: np.ndarray) -> np.ndarray:
        s = switch * switch * (y + 1.0) / 2.0
        term, total = np.ones_like(s), np.ones_like(s)
        for k in range(1, 60):
            term = term * (-0.5 * s) / (k * (2 * order + 2 * k + 1))
            total = total + term
        return total

    return tuple(float(a) for a in chebyshev.chebinterpolate(series, degree))


def spherical_bessel(order: int, x: torch.Tensor, coefficients: list[float]) -> torch.Tensor:
    """j_order(x) for x > 0, accurate in float32 and float64, finite gradients everywhere.

    Below x = order + 1: j_l(x) = x^l / (2l+1)!! S(x^2) with the power series
    S(s) = sum_k (-s/2)^k / (k! (2l+3)(2l+5)..(2l+2k+1)), evaluated as a Chebyshev sum.
    Above: j_0 = sin x / x, j_1 = sin x / x^2 - cos x / x, j_{l+1} = (2l+1)/x j_l - j_{l-1},
    stable for x > l. Each branch sees only arguments in its own range (the other
    positions get a harmless stand-in) so that neither can put inf or NaN into the gradient.
    `coefficients`: series_coefficients(order), computed once by the caller.
    """
    switch = float(order + 1)
    small = x < switch
    x_low = torch.where(small, x, torch.zeros_like(x))
    x_high = torch.where(small, torch.full_like(x, switch), x)

    # The power series in s = x^2, summed as a Chebyshev expansion (Clenshaw): its partial
    # sums and their gradients stay of order one, whereas the series' own terms, and the
    # gradients of a Horner scheme, underflow into denormals at small x (~100x slower).
    y = x_low * x_low * (2.0 / (switch * switch)) - 1.0
    later, latest = torch.zeros_like(y), torch.zeros_like(y)
    for n in range(len(coefficients) - 1, 0, -1):
        later, latest = latest, coefficients[n] + 2.0 * y * latest - later
    total = coefficients[0] + y * latest - later
    double_factorial = 1.0
    for factor in range(3, 2 * order + 2, 2):
        double_factorial *= factor
    low = x_low**order / double_factorial * total

    sin, cos = torch.sin(x_high), torch.cos(x_high)
    inverse = 1.0 / x_high
    previous = sin * inverse
    high = previous
    if order > 0:
        high = (previous - cos) * inverse
        for n in range(1, order):
            previous, high = high, (2 * n + 1) * inverse * high - previous
    return torch.where(small, low, high)


class SphericalBesselRadial(torch.nn.Module):
    """Radial part of the spherical Fourier-Bessel basis: (E,) distances -> (E, L, K).

    Entry (l, n) is sqrt(2 / (c^3 j_{l+1}(z_ln)^2)) j_l(z_ln d / c) u(d / c): orthonormal on
    the ball of radius c for each l, times DimeNet's envelope u (exponent p).
    """

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int):
        super().__init__()
        self.num_spherical = num_spherical
        self.cutoff = float(cutoff)
        self.envelope_exponent = envelope_exponent
        roots = torch.tensor(bessel_roots(num_spherical, num_radial), dtype=torch.float64)
        from scipy.special import spherical_jn

        norms = [
            [math.sqrt(2.0 / cutoff**3) / abs(spherical_jn(order + 1, z)) for z in row]
            for order, row in enumerate(roots.tolist())
        ]
        self.register_buffer("roots", roots)
        self.register_buffer("norms", torch.tensor(norms, dtype=torch.float64))
        self.series = [series_coefficients(order) for order in range(num_spherical)]

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        scaled = (distance / self.cutoff).unsqueeze(-1)
        roots = self.roots.to(distance.dtype)
        orders = [
            spherical_bessel(order, roots[order] * scaled, self.series[order])
            for order in range(self.num_spherical)
        ]
        radial = torch.stack(orders, dim=1) * self.norms.to(distance.dtype)
        envelope = polynomial_envelope(distance / self.cutoff, self.envelope_exponent)
        return radial * envelope.unsqueeze(-1).unsqueeze(-1)


def zonal_harmonics(cos_angle: torch.Tensor, num_spherical: int) -> torch.Tensor:
    """Y_l0 = sqrt((2l+1)/(4 pi)) P_l(cos angle) for l < num_spherical: (..., L)."""
    scale = [math.sqrt((2 * order + 1) / (4 * math.pi)) for order in range(num_spherical)]
    return legendre(cos_angle, num_spherical) * torch.tensor(
        scale, dtype=cos_angle.dtype, device=cos_angle.device
    )


def real_spherical_harmonics(
    theta: torch.Tensor, phi: torch.Tensor, num_spherical: int
) -> torch.Tensor:
    """Orthonormal real Y_lm(theta, phi), l < L, m = -l..l, ordered (l, m): (..., L^2).

    Y_lm = N_lm P_l^|m|(cos theta) * (sqrt 2 cos(m phi) for m > 0, 1 for m = 0,
    sqrt 2 sin(|m| phi) for m < 0), N_lm = sqrt((2l+1)/(4 pi) (l-|m|)!/(l+|m|)!), without
    the Condon-Shortley phase. sin(theta) comes from theta, not sqrt(1 - cos^2), so the
    gradient stays finite at theta = 0 and pi.
    """
    cos, sin = torch.cos(theta), torch.sin(theta)
    # associated[m][l] = P_l^m(cos theta), by the standard recurrences in l at fixed m.
    associated: list[dict[int, torch.Tensor]] = []
    diagonal = torch.ones_like(cos)
    for m in range(num_spherical):
        if m > 0:
            diagonal = diagonal * (2 * m - 1) * sin
        column = {m: diagonal}
        if m + 1 < num_spherical:
            column[m + 1] = (2 * m + 1) * cos * diagonal
        for order in range(m + 2, num_spherical):
            column[order] = (
                (2 * order - 1) * cos * column[order - 1] - (order + m - 1) * column[order - 2]
            ) / (order - m)
        associated.append(column)
    harmonics = []
    for order in range(num_spherical):
        for m in range(-order, order + 1):
            a = abs(m)
            norm = math.sqrt(
                (2 * order + 1)
                / (4 * math.pi)
                * math.factorial(order - a)
                / math.factorial(order + a)
            )
            value = norm * associated[a][order]
            if m > 0:
                value = value * math.sqrt(2.0) * torch.cos(m * phi)
            elif m < 0:
                value = value * math.sqrt(2.0) * torch.sin(a * phi)
            harmonics.append(value)
    return torch.stack(harmonics, dim=-1)


class SphericalBasis2D(torch.nn.Module):
    """DimeNet's basis of (d_kj, angle_kji) per triplet: (T, L * K), ordered (l, n)."""

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int):
        super().__init__()
        self.num_spherical = num_spherical
        self.radial = SphericalBesselRadial(num_spherical, num_radial, cutoff, envelope_exponent)

    def forward(
        self, distance: torch.Tensor, angle: torch.Tensor, edge_of_triplet: torch.Tensor
    ) -> torch.Tensor:
        """`distance` per edge (E,); `angle` per triplet (T,); radial part from edge
        `edge_of_triplet` (T,). The radial part is computed once per edge, then gathered."""
        radial = self.radial(distance)[edge_of_triplet]
        angular = zonal_harmonics(torch.cos(angle), self.num_spherical)
        return (radial * angular.unsqueeze(-1)).flatten(1)


class SphericalBasis3D(torch.nn.Module):
    """SphereNet's basis of (d_kj, theta, phi) per triplet: (T, L^2 * K), ordered (l, m, n)."""

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int):
        super().__init__()
        self.num_spherical = num_spherical
        self.radial = SphericalBesselRadial(num_spherical, num_radial, cutoff, envelope_exponent)
        order_of = [order for order in range(num_spherical) for _ in range(2 * order + 1)]
        self.register_buffer("order_of", torch.tensor(order_of, dtype=torch.long))

    def forward(
        self,
        distance: torch.Tensor,
        theta: torch.Tensor,
        phi: torch.Tensor,
        edge_of_triplet: torch.Tensor,
    ) -> torch.Tensor:
        radial = self.radial(distance)[:, self.order_of][edge_of_triplet]
        angular = real_spherical_harmonics(theta, phi, self.num_spherical)
        return (radial * angular.unsqueeze(-1)).flatten(1)


class CartesianHarmonics(torch.nn.Module):
    """Orthonormal real Y_lm of edge directions, l < L, ordered (l, m): (E, 3) -> (E, L^2).

    The same functions as ``real_spherical_harmonics`` (same m order and signs), written in
    the components of the unit vector: sin^m(theta) cos(m phi) and sin^m(theta) sin(m phi)
    are the real and imaginary parts of (x + i y)^m, and P_l^m(cos theta) / sin^m(theta) is
    a polynomial in z. No angle is formed, so the gradient is finite along every axis.
    By the addition theorem sum_m Y_lm(u) Y_lm(v) = (2l + 1) / (4 pi) P_l(u . v), which
    turns a sum over triplets into per-atom sums (lmp_bench.models.zoo.angular_sums).
    """

    def __init__(self, num_spherical: int):
        super().__init__()
        self.num_spherical = num_spherical
        norms = []
        for order in range(num_spherical):
            for m in range(-order, order + 1):
                a = abs(m)
                ratio = math.factorial(order - a) / math.factorial(order + a)
                norm = math.sqrt((2 * order + 1) / (4 * math.pi) * ratio)
                norms.append(norm * (math.sqrt(2.0) if m != 0 else 1.0))
        self.register_buffer("norms", torch.tensor(norms, dtype=torch.float64))

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        unit = vectors / torch.sqrt((vectors * vectors).sum(-1, keepdim=True))
        x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
        # real and imaginary parts of (x + i y)^m, m = 0 .. L-1
        real: list[torch.Tensor] = [torch.ones_like(x)]
        imaginary: list[torch.Tensor] = [torch.zeros_like(x)]
        for m in range(1, self.num_spherical):
            real.append(x * real[m - 1] - y * imaginary[m - 1])
            imaginary.append(x * imaginary[m - 1] + y * real[m - 1])
        # polynomial[m][l] = P_l^m(z) / sin^m(theta), by the recurrences in l at fixed m
        polynomial: list[list[torch.Tensor]] = []
        diagonal = torch.ones_like(z)
        for m in range(self.num_spherical):
            if m > 0:
                diagonal = diagonal * float(2 * m - 1)
            column: list[torch.Tensor] = [diagonal]
            if m + 1 < self.num_spherical:
                column.append(float(2 * m + 1) * z * diagonal)
            for order in range(m + 2, self.num_spherical):
                n = order - m
                column.append(
                    (
                        float(2 * order - 1) * z * column[n - 1]
                        - float(order + m - 1) * column[n - 2]
                    )
                    / float(order - m)
                )
            polynomial.append(column)
        harmonics: list[torch.Tensor] = []
        for order in range(self.num_spherical):
            for m in range(-order, order + 1):
                a = abs(m)
                azimuthal = real[a] if m >= 0 else imaginary[a]
                harmonics.append(polynomial[a][order - a] * azimuthal)
        return torch.stack(harmonics, dim=-1) * self.norms.to(vectors.dtype)
