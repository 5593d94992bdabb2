"""A 2-D sinc surface z = sin(r) / r over a meshgrid, after TensorFlow's tensor tutorial.

``meshgrid`` turns two 1-D axes into coordinate grids ('xy' indexing by default, like
NumPy; 'ij' on request); r = sqrt(X**2 + Y**2) and z = sin(r) / r are then elementwise.
The surface is computed three ways: entirely inside the compiled function from
``linspace`` (an even number of points, so r is never 0), from axes passed in, and
"safely" with ``where`` on a grid that contains r == 0 (sinc(0) = 1).

Run ``python examples/sinc_surface.py`` (add ``--plot surface.png`` to draw it with
matplotlib): it prints a summary and checks every result against NumPy.
``EXAMPLES`` is the list the e2e tests parametrise over.
"""

from __future__ import annotations

import sys

import numpy as np

import kiln as kn
from _harness import TRANSCENDENTAL, Example, main_for

N, LIM = 100, 8.0


@kn.jit
def meshgrids(x, y):
    """'xy' gives grids of shape (len(y), len(x)); 'ij' gives (len(x), len(y))."""
    return kn.meshgrid(x, y), kn.meshgrid(x, y, indexing="ij")


def np_meshgrids(x, y):
    return np.meshgrid(x, y), np.meshgrid(x, y, indexing="ij")


@kn.jit
def meshgrid_3d(x, y, z):
    return kn.meshgrid(x, y, z, indexing="ij")


def np_meshgrid_3d(x, y, z):
    return np.meshgrid(x, y, z, indexing="ij")


@kn.jit
def sinc_surface():
    """Everything from linspace to z inside one compiled function."""
    x = kn.linspace(-LIM, LIM, N)
    y = kn.linspace(-LIM, LIM, N)
    gx, gy = kn.meshgrid(x, y)
    r = kn.sqrt(gx ** 2 + gy ** 2)
    return gx, gy, kn.sin(r) / r


def np_sinc_surface():
    x = np.linspace(-LIM, LIM, N, dtype=np.float32)
    y = np.linspace(-LIM, LIM, N, dtype=np.float32)
    gx, gy = np.meshgrid(x, y)
    r = np.sqrt(gx ** 2 + gy ** 2)
    return gx, gy, np.sin(r) / r


@kn.jit
def sinc_from_axes(x, y):
    """The same surface on a non-square grid whose axes come from the caller."""
    gx, gy = kn.meshgrid(x, y)
    r = kn.sqrt(kn.square(gx) + kn.square(gy))
    z = kn.sin(r) / r
    return z, z.max(), z.min(), kn.argmax(z)


def np_sinc_from_axes(x, y):
    gx, gy = np.meshgrid(x, y)
    r = np.sqrt(np.square(gx) + np.square(gy))
    z = np.sin(r) / r
    return z, z.max(), z.min(), np.argmax(z)


@kn.jit
def safe_sinc(x, y):
    """sinc with r == 0 on the grid: where picks 1 there (the 0/0 branch is discarded)."""
    gx, gy = kn.meshgrid(x, y)
    r = kn.sqrt(gx * gx + gy * gy)
    return kn.where(r == 0.0, 1.0, kn.sin(r) / r)


def np_safe_sinc(x, y):
    gx, gy = np.meshgrid(x, y)
    r = np.sqrt(gx * gx + gy * gy)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(r == 0.0, np.float32(1.0), np.sin(r) / r)


XS = np.linspace(-6.0, 7.0, 30, dtype=np.float32)
YS = np.linspace(-4.0, 5.0, 20, dtype=np.float32)
ODD = np.linspace(-8.0, 8.0, 41, dtype=np.float32)     # contains 0.0 exactly

EXAMPLES: list[Example] = [
    Example("meshgrid_xy_ij", meshgrids, np_meshgrids,
            (np.arange(3, dtype=np.float32), np.arange(10, 15, dtype=np.float32))),
    Example("meshgrid_3d", meshgrid_3d, np_meshgrid_3d,
            (np.arange(2, dtype=np.int32), np.arange(3, dtype=np.int32), np.arange(4, dtype=np.int32))),
    Example("sinc_surface_linspace", sinc_surface, np_sinc_surface, (), **TRANSCENDENTAL),
    Example("sinc_from_axes", sinc_from_axes, np_sinc_from_axes, (XS, YS), **TRANSCENDENTAL),
    Example("sinc_safe_at_origin", safe_sinc, np_safe_sinc, (ODD, ODD), **TRANSCENDENTAL),
]


def plot(path: str) -> None:
    """Draw the surface with matplotlib (optional dependency: kiln[examples])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gx, gy, z = (np.asarray(a) for a in sinc_surface())
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(gx, gy, z, cmap="viridis")
    ax.set_title("z = sin(r) / r")
    fig.savefig(path)
    print("wrote", path)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    gx, gy, z = sinc_surface()
    z = np.asarray(z)
    print(f"sinc surface on a {z.shape} grid: max {z.max():.4f} near the origin, min {z.min():.4f}")
    main_for("meshgrid + sinc surface", EXAMPLES)
    if len(argv) == 2 and argv[0] == "--plot":
        plot(argv[1])


if __name__ == "__main__":
    main()
