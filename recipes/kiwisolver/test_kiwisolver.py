"""Runs inside Pyodide after the wheel is installed (each test_* function)."""


def test_solver_and_cpp_exceptions() -> None:
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
