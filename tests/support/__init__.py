"""Helpers the tests share: real wheels, a real upstream index server, a real wasmfarm server process."""
