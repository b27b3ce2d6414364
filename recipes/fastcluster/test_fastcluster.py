"""pytest-pyodide tests, as pyodide-recipes writes them: each ``run_in_pyodide`` function runs inside Pyodide."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["fastcluster"])
def test_single_linkage_of_points_on_a_line(selenium) -> None:
    import fastcluster
    import numpy as np

    # 0, 1 and 5 on a line, as condensed distances d(0,1), d(0,5), d(1,5): {0, 1} merge at distance 1, then
    # {0, 1} and {5} at distance 4 (single linkage).
    tree = fastcluster.linkage(np.array([1.0, 5.0, 4.0]), method="single")
    assert tree.shape == (2, 4), tree.shape
    assert tree[:, 2].tolist() == [1.0, 4.0], tree
    assert tree[:, 3].tolist() == [2.0, 3.0], tree
    assert sorted(tree[0, :2].tolist()) == [0.0, 1.0], tree
    # The same points as vectors, through the routine that needs no distance matrix.
    assert fastcluster.linkage_vector(np.array([[0.0], [1.0], [5.0]]))[:, 2].tolist() == [1.0, 4.0]


@run_in_pyodide(packages=["fastcluster"])
def test_condensed_distances_and_methods_agree(selenium) -> None:
    import fastcluster
    import numpy as np

    rng = np.random.default_rng(7)
    points = rng.random((40, 3))
    n = len(points)
    condensed = np.array(
        [np.linalg.norm(points[i] - points[j]) for i in range(n) for j in range(i + 1, n)], dtype=np.float64
    )
    from_points = fastcluster.linkage_vector(points, method="single")
    from_distances = fastcluster.linkage(condensed, method="single")
    assert np.allclose(from_points[:, 2], from_distances[:, 2])
    # Heights of a complete-linkage tree never decrease; the last merge holds every point.
    complete = fastcluster.complete(condensed)
    assert np.all(np.diff(complete[:, 2]) >= 0)
    assert complete[-1, 3] == n
