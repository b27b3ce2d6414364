"""pytest-pyodide tests, as pyodide-recipes writes them: each ``run_in_pyodide`` function runs inside Pyodide."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["numpy"])
def test_arrays_linalg_fft_random(selenium) -> None:
    import numpy as np

    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert a.sum() == 66.0 and a.T.shape == (4, 3)
    m = np.array([[4.0, 1.0], [2.0, 3.0]])
    assert np.allclose(np.linalg.solve(m, [1.0, 2.0]) @ m.T, [1.0, 2.0])
    assert np.allclose(np.fft.ifft(np.fft.fft([1.0, 2.0, 3.0])).real, [1.0, 2.0, 3.0])
    assert np.random.default_rng(0).integers(0, 10, 5).shape == (5,)
