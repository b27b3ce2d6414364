"""pytest-pyodide tests, as pyodide-recipes writes them: each ``run_in_pyodide`` function runs inside Pyodide."""

from pytest_pyodide import run_in_pyodide


@run_in_pyodide(packages=["pyyaml"])
def test_libyaml_loader_and_dumper(selenium) -> None:
    import yaml

    assert yaml.__with_libyaml__
    document = {"name": "wasmfarm", "list": [1, 2.5, None, True], "nested": {"k": "v"}}
    text = yaml.dump(document, Dumper=yaml.CDumper)
    assert yaml.load(text, Loader=yaml.CSafeLoader) == document
