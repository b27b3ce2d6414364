"""The parts of a WebAssembly module a farm check needs: imports, exports, and the dylink.0 section.

Hand-rolled (about 100 lines) because no maintained Python library reads ``dylink.0``; the format is the
WebAssembly binary spec plus https://github.com/WebAssembly/tool-conventions/blob/main/DynamicLinking.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from farm.errors import InvalidDistribution

_MAGIC = b"\0asm\x01\0\0\0"
_WEAK = 0x1
FUNCTION = 0  # import kinds


@dataclass
class WasmModule:
    imports: list[tuple[str, str, int]] = field(default_factory=list)  # (module, name, kind)
    exports: set[str] = field(default_factory=set)
    needed: list[str] = field(default_factory=list)  # dylink.0 WASM_DYLINK_NEEDED
    weak_imports: set[tuple[str, str]] = field(default_factory=set)
    is_side_module: bool = False


class _Reader:
    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def leb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def name(self) -> str:
        size = self.leb()
        value = bytes(self.data[self.pos : self.pos + size]).decode("utf-8", "replace")
        self.pos += size
        return value

    def limits(self) -> None:
        flags = self.byte()
        self.leb()
        if flags & 1:
            self.leb()


def parse(data: bytes, display: str) -> WasmModule:
    if not data.startswith(_MAGIC):
        raise InvalidDistribution(f"{display}: not a WebAssembly module (bad magic)")
    view = memoryview(data)
    module = WasmModule()
    r = _Reader(view, 8)
    try:
        while r.pos < len(data):
            section = r.byte()
            size = r.leb()
            start, r.pos = r.pos, r.pos + size
            body = _Reader(view, start, start + size)
            if section == 0:
                _custom(body, module)
            elif section == 2:
                _imports(body, module)
            elif section == 7:
                for _ in range(body.leb()):
                    module.exports.add(body.name())
                    body.byte()
                    body.leb()
    except IndexError as exc:
        raise InvalidDistribution(f"{display}: truncated WebAssembly module") from exc
    return module


def _custom(body: _Reader, module: WasmModule) -> None:
    if body.name() != "dylink.0":
        return
    module.is_side_module = True
    while body.pos < body.end:
        kind = body.byte()
        size = body.leb()
        sub = _Reader(body.data, body.pos, body.pos + size)
        body.pos += size
        if kind == 2:  # WASM_DYLINK_NEEDED
            module.needed += [sub.name() for _ in range(sub.leb())]
        elif kind == 4:  # WASM_DYLINK_IMPORT_INFO
            for _ in range(sub.leb()):
                mod, name, flags = sub.name(), sub.name(), sub.leb()
                if flags & _WEAK:
                    module.weak_imports.add((mod, name))


def _imports(body: _Reader, module: WasmModule) -> None:
    for _ in range(body.leb()):
        mod, name, kind = body.name(), body.name(), body.byte()
        if kind == FUNCTION:
            body.leb()
        elif kind == 1:  # table
            body.byte()
            body.limits()
        elif kind == 2:  # memory
            body.limits()
        elif kind == 3:  # global
            body.byte()
            body.byte()
        elif kind == 4:  # tag
            body.byte()
            body.leb()
        module.imports.append((mod, name, kind))
