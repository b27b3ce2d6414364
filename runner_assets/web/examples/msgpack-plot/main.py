"""How many bytes a list of numbers takes as msgpack and as JSON. msgpack is a compiled package (C code built for
WebAssembly); the requirements panel asks the farm for it. The chart is SVG drawn by chart.py, shown by display()."""

import json

import msgpack
from chart import LineChart

counts = [10, 100, 1_000, 10_000, 100_000]
packed, as_json = [], []
for n in counts:
    numbers = list(range(n))
    assert msgpack.unpackb(msgpack.packb(numbers)) == numbers
    packed.append(len(msgpack.packb(numbers)) / n)
    as_json.append(len(json.dumps(numbers, separators=(",", ":")).encode()) / n)

print(f"msgpack {'.'.join(map(str, msgpack.version))}")
for n, p, j in zip(counts, packed, as_json, strict=True):
    print(f"{n:>7} numbers: msgpack {p:.2f} bytes each, JSON {j:.2f}")

display(
    LineChart(
        "Bytes per number: msgpack and JSON",
        [f"{n:,}" for n in counts],
        {"msgpack": packed, "JSON": as_json},
        "bytes per number",
    )
)
