#!/usr/bin/env bash
# Probe the Fortran routes to wasm32 in the builder image (docs/scientific-stack.md); not part of .ci/run.
#   bash ci/probe-fortran.sh [WORKDIR]      (as root; ~2 min; Debian's mirror is contacted for apt)
# Works on a COPY of the cached builder rootfs (the cached image is never modified):
#   1. Debian's flang-21/flang-22 with --target=wasm32-unknown-emscripten (expected: "target not implemented");
#   2. f2c: a Fortran 77 function (array math) and subroutine (WRITE/PRINT) -> C -> emcc, with libf2c built for
#      wasm32 from Debian's source, linked into an Emscripten side module, called by ctypes in Pyodide under Node.
# Exit 0 when the f2c route works end to end (the printed numbers and lines are checked), 1 otherwise.
set -euo pipefail
cache="${WASMFARM_CACHE:-$HOME/.cache/wasmfarm}"
work="$(realpath -m "${1:-/tmp/wasmfarm-fortran-probe}")"
rootfs_src="$(ls -d "$cache"/builders/*/rootfs 2>/dev/null | head -n 1 || true)"
pyodide_tgz="$(ls "$cache"/npm/pyodide-*.tgz 2>/dev/null | head -n 1 || true)"
[ -n "$rootfs_src" ] || { echo "probe-fortran: no builder image under $cache/builders (run make bootstrap)" >&2; exit 1; }
[ -n "$pyodide_tgz" ] || { echo "probe-fortran: no npm pyodide tarball under $cache/npm" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "probe-fortran: run as root (apt inside the copied rootfs)" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work/src"
TIMEFORMAT="  (%Rs)"
echo "== copying $rootfs_src"
time cp -a "$rootfs_src" "$work/rootfs"

sb() {  # run a shell command as root in the copied rootfs, $work/src mounted at /work, network shared (apt only)
  bwrap --bind "$work/rootfs" / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /run --bind "$work/src" /work \
    --ro-bind /etc/resolv.conf /etc/resolv.conf --unshare-pid --die-with-parent --chdir /work \
    /usr/bin/env HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive bash -c "$1"
}
apt="apt-get -q -o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false"

cat > "$work/src/axpy.f90" <<'EOF'
subroutine daxpy2(n, a, x, y) bind(c, name="daxpy2")
  use iso_c_binding
  integer(c_int), value :: n
  real(c_double), value :: a
  real(c_double), intent(in) :: x(n)
  real(c_double), intent(inout) :: y(n)
  y = a * x + y
end subroutine
EOF
cat > "$work/src/probe.f" <<'EOF'
C     Array math: y := a*x + y, then return the sum of y
      DOUBLE PRECISION FUNCTION DAXSUM(N, A, X, Y)
      INTEGER N, I
      DOUBLE PRECISION A, X(N), Y(N)
      DAXSUM = 0.0D0
      DO 10 I = 1, N
         Y(I) = A * X(I) + Y(I)
         DAXSUM = DAXSUM + Y(I)
   10 CONTINUE
      RETURN
      END
C     Formatted and list-directed output through libf2c's I/O runtime
      SUBROUTINE HELLO(N)
      INTEGER N
      WRITE(*, 100) N, SQRT(2.0D0)
  100 FORMAT('hello from fortran, n=', I4, ' sqrt(2)=', F10.6)
      PRINT *, 'list-directed', N * 2
      RETURN
      END
EOF

echo "== apt: flang-21 flang-22 f2c"
time sb "echo 'deb-src http://deb.debian.org/debian sid main' > /etc/apt/sources.list.d/wasmfarm-probe-src.list
  $apt update >/dev/null 2>&1; $apt install -y --no-install-recommends flang-21 flang-22 f2c >/dev/null"

echo "== 1. flang --target=wasm32-unknown-emscripten"
for v in 21 22; do
  if sb "flang-$v --target=wasm32-unknown-emscripten -O2 -c axpy.f90 -o axpy-$v.o" > "$work/flang-$v.log" 2>&1; then
    echo "  flang-$v: compiled an object for wasm32 (news: see docs/scientific-stack.md)"
  else
    echo "  flang-$v: $(head -n 1 "$work/flang-$v.log")"
  fi
done
echo "  Fortran runtimes shipped: $(sb 'find / -xdev -name "libflang_rt*" 2>/dev/null' | tr '\n' ' ')"

echo "== 2. libf2c for wasm32 from Debian's source (the orig tarball is enough)"
time sb "set -e; $apt source --download-only libf2c2 >/dev/null 2>&1 || true; test -f libf2c2_*.orig.tar.xz
  mkdir libf2c && tar xJf libf2c2_*.orig.tar.xz -C libf2c --strip-components=1 && cd libf2c
  emcc -DNO_FPINIT arithchk.c -o arithchk.js 2>/dev/null && node arithchk.js > arith.h
  cp makefile.u makefile && sed -i '/ld -r -x/d; /mv \$\*.xxx/d' makefile   # host ld cannot read wasm objects
  make -j2 CC=emcc CFLAGS='-O2 -fPIC -DNO_FPINIT' f2c.h signal1.h sysdep1.h libf2c.a >make.log 2>&1
  rm -f libf2c.a && emar rcs libf2c-wasm.a \$(ls *.o | grep -v '^main.o$')" \
  || { echo "probe-fortran: building libf2c for wasm32 failed (see $work/src/libf2c/make.log)" >&2; exit 1; }

echo "== 2. f2c probe.f -> emcc -> side module"
time sb "set -e; cp libf2c/f2c.h . && f2c -a -A -R probe.f 2>/dev/null && emcc -O2 -fPIC -I. -c probe.c -o probe.o 2>/dev/null
  emcc -O2 -sSIDE_MODULE=1 probe.o libf2c/libf2c-wasm.a -o libprobe.so 2>/dev/null && ls -l libprobe.so" \
  || { echo "probe-fortran: f2c/emcc of probe.f failed" >&2; exit 1; }

echo "== 2. load in Pyodide under Node, call by ctypes"
mkdir -p "$work/node/node_modules/pyodide"
tar xzf "$pyodide_tgz" -C "$work/node/node_modules/pyodide" --strip-components=1
cat > "$work/node/run.mjs" <<'EOF'
import { readFileSync } from "node:fs";
import { loadPyodide } from "pyodide";
const out = [];
const py = await loadPyodide({ stdout: (s) => out.push(s), stderr: (s) => out.push("stderr: " + s) });
py.FS.writeFile("/tmp/libprobe.so", readFileSync(process.argv[2]));
const result = py.runPython(`
import ctypes, sys
lib = ctypes.CDLL("/tmp/libprobe.so")
lib.daxsum_.restype = ctypes.c_double
n, a = ctypes.c_int(4), ctypes.c_double(2.0)
x, y = (ctypes.c_double * 4)(1, 2, 3, 4), (ctypes.c_double * 4)(10, 20, 30, 40)
s = lib.daxsum_(ctypes.byref(n), ctypes.byref(a), x, y)
lib.hello_(ctypes.byref(ctypes.c_int(7)))
sys.stdout.flush()
[s, list(y)]
`).toJs();
console.log(JSON.stringify({ result, out }));
EOF
got="$(cd "$work/node" && node run.mjs "$work/src/libprobe.so")"
echo "  $got"
want='{"result":[120,[12,24,36,48]],"out":["hello from fortran, n=   7 sqrt(2)=  1.414214"," list-directed 14"]}'
if [ "$got" = "$want" ]; then
  echo "probe-fortran: the f2c route works end to end; flang has no wasm target (see above)"
else
  echo "probe-fortran: unexpected output from the f2c side module; expected $want" >&2
  exit 1
fi
