"""Runs inside Pyodide after the wheel is installed (each test_* function)."""


def test_libyaml_loader_and_dumper() -> None:
    import yaml

    assert yaml.__with_libyaml__
    document = {"name": "wasmfarm", "list": [1, 2.5, None, True], "nested": {"k": "v"}}
    text = yaml.dump(document, Dumper=yaml.CDumper)
    assert yaml.load(text, Loader=yaml.CSafeLoader) == document
