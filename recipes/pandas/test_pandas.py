"""pytest-pyodide tests of the pandas wheel, run inside Pyodide: a groupby, a merge and a CSV round trip."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(120)
@run_in_pyodide(packages=["pandas"])
def test_groupby(selenium) -> None:
    import pandas as pd

    frame = pd.DataFrame({"team": ["a", "b", "a", "c", "b", "a"], "score": [1, 2, 3, 4, 5, 6]})
    totals = frame.groupby("team")["score"].agg(["sum", "mean", "count"])
    assert totals.loc["a"].tolist() == [10, 10 / 3, 3]
    assert totals["sum"].to_dict() == {"a": 10, "b": 7, "c": 4}


@pytest.mark.driver_timeout(120)
@run_in_pyodide(packages=["pandas"])
def test_merge(selenium) -> None:
    import pandas as pd

    left = pd.DataFrame({"key": [1, 2, 3], "x": ["one", "two", "three"]})
    right = pd.DataFrame({"key": [2, 3, 4], "y": [20.0, 30.0, 40.0]})
    inner = left.merge(right, on="key")
    assert inner.to_dict("list") == {"key": [2, 3], "x": ["two", "three"], "y": [20.0, 30.0]}
    outer = left.merge(right, on="key", how="outer").sort_values("key")
    assert outer["y"].isna().tolist() == [True, False, False, False]


@pytest.mark.driver_timeout(120)
@run_in_pyodide(packages=["pandas"])
def test_csv_round_trip_with_dates(selenium) -> None:
    import io

    import pandas as pd

    frame = pd.DataFrame(
        {
            "when": pd.date_range("2026-01-01", periods=4, freq="D", tz="Europe/Paris"),
            "value": [1.5, None, 3.25, 4.0],
            "label": ["x", "y", "z", "w"],
        }
    )
    text = frame.to_csv(index=False)
    back = pd.read_csv(io.StringIO(text), parse_dates=["when"])
    assert back["value"].isna().sum() == 1
    assert back["label"].tolist() == ["x", "y", "z", "w"]
    assert str(back["when"].dt.tz) in ("UTC+01:00", "Europe/Paris")
    assert back["when"].dt.day.tolist() == [1, 2, 3, 4]
