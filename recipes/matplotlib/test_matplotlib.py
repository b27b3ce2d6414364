"""pytest-pyodide tests of the matplotlib wheel, run inside Pyodide: a figure rendered by Agg to PNG (text through
FreeType), read back with Pillow and checked pixel by pixel; a Delaunay triangulation through Qhull."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(180)
@run_in_pyodide(packages=["matplotlib"])
def test_figure_to_png(selenium) -> None:
    import io
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt
    from PIL import Image

    assert matplotlib.get_backend().lower() == "agg"
    figure, axes = plt.subplots(figsize=(4, 3), dpi=50)
    axes.set_axis_off()
    axes.fill_between([0, 1], [0, 0], [1, 1], color="#ff0000")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    figure.text(0.5, 0.02, "wasmfarm", ha="center", fontsize=12, color="#0000ff")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # drawing text must not warn (a build against the wrong pybind11 does)
        figure.savefig(buffer, format="png")
    plt.close(figure)

    png = Image.open(io.BytesIO(buffer.getvalue()))
    assert (png.format, png.size) == ("PNG", (200, 150))
    pixels = png.convert("RGB")
    assert pixels.getpixel((100, 60)) == (255, 0, 0)  # inside the filled axes
    colours = {pixels.getpixel((x, y)) for x in range(200) for y in range(130, 150)}
    assert any(b > 200 and r < 100 and g < 100 for r, g, b in colours), "no text drawn by FreeType"


@pytest.mark.driver_timeout(120)
@run_in_pyodide(packages=["matplotlib"])
def test_delaunay_through_qhull(selenium) -> None:
    import numpy as np
    from matplotlib import tri

    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([0.0, 0.0, 1.0, 1.0, 0.5])
    triangulation = tri.Triangulation(x, y)
    assert triangulation.triangles.shape == (4, 3)
    assert sorted(set(triangulation.triangles.ravel().tolist())) == [0, 1, 2, 3, 4]
