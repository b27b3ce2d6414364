"""The HTTP face of wasmfarm: a thin ASGI/FastAPI layer over ``farm``."""
