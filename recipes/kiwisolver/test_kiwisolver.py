"""Runs inside Pyodide after the wheel is installed (each test_* function)."""


def test_solver_and_cpp_exceptions() -> None:
    import kiwisolver

    x = kiwisolver.Variable("x")
    solver = kiwisolver.Solver()
    solver.addConstraint(x >= 10)
    solver.updateVariables()
    assert x.value() == 10
    try:
        solver.addConstraint(x >= 10)  # a duplicate constraint: raised as a C++ exception, caught in Python
    except kiwisolver.DuplicateConstraint:
        return
    raise AssertionError("the duplicate constraint was accepted")
