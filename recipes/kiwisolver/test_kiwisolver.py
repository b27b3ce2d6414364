"""pytest-pyodide tests, as pyodide-recipes writes them: each ``run_in_pyodide`` function runs inside Pyodide."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["kiwisolver"])
def test_solver_and_cpp_exceptions(selenium) -> None:
    import kiwisolver

    x = kiwisolver.Variable("x")
    constraint = x >= 10
    solver = kiwisolver.Solver()
    solver.addConstraint(constraint)
    solver.updateVariables()
    assert x.value() == 10
    try:
        solver.addConstraint(constraint)  # the same constraint again: a C++ exception, caught in Python
    except kiwisolver.DuplicateConstraint:
        return
    raise AssertionError("the duplicate constraint was accepted")
