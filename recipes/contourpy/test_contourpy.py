"""pytest-pyodide tests of the contourpy wheel, run inside Pyodide: lines and filled contours of a known surface."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(120)
@run_in_pyodide(packages=["contourpy"])
def test_circle_contours(selenium) -> None:
    import contourpy
    import numpy as np

    x = np.linspace(-2.0, 2.0, 81)
    xx, yy = np.meshgrid(x, x)
    z = np.hypot(xx, yy)  # distance from the origin: the level-1 contour is the unit circle
    generator = contourpy.contour_generator(xx, yy, z, name="serial", line_type="Separate")
    lines = generator.lines(1.0)
    assert len(lines) == 1
    radii = np.hypot(lines[0][:, 0], lines[0][:, 1])
    assert np.allclose(radii, 1.0, atol=0.02)
    filled = contourpy.contour_generator(xx, yy, z, name="mpl2014").filled(0.0, 1.0)
    points, _codes = filled
    assert len(points) == 1 and np.hypot(points[0][:, 0], points[0][:, 1]).max() <= 1.0 + 1e-9
