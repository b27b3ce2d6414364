"""pytest-pyodide tests of the shapely wheel, run inside Pyodide: GEOS's predicates, overlays and buffers (C++ that
throws on bad input), and shapely's vectorised numpy functions."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["shapely"])
def test_overlay_buffer_and_predicates(selenium) -> None:
    from shapely import wkt
    from shapely.geometry import Point, Polygon

    square = Polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
    other = Polygon([(1, 1), (3, 1), (3, 3), (1, 3)])
    assert square.intersection(other).area == 1.0
    assert square.union(other).area == 7.0
    assert square.contains(Point(1, 1)) and not square.contains(Point(3, 3))
    circle = Point(0, 0).buffer(1.0, quad_segs=64)
    assert abs(circle.area - 3.14159) < 0.01
    assert wkt.loads("LINESTRING (0 0, 3 4)").length == 5.0


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["shapely"])
def test_vectorised_and_errors(selenium) -> None:
    import numpy as np
    import shapely

    points = shapely.points(np.arange(4.0), np.zeros(4))
    assert shapely.distance(points, shapely.Point(0, 0)).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert not shapely.is_valid(shapely.from_wkt("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"))  # a bow tie
    try:
        shapely.from_wkt("POLYGON ((0 0, 1")
    except shapely.errors.GEOSException as error:  # a C++ exception of GEOS, caught and turned into Python's
        assert "ParseException" in str(error), error
    else:
        raise AssertionError("bad WKT was parsed")
