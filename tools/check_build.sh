#!/usr/bin/env bash
# sam build without Docker, then prove the built artefacts import on the runtime's Python.
#
# Usage: tools/check_build.sh [--build-only]
#   PY313_BIN  folder holding python3.13 (default: $(pyenv root)/versions/3.13.0/bin, else the
#              folder of `command -v python3.13`). It goes first on PATH: `sam build` with
#              BuildMethod python3.13 needs a real python3.13 there (pyenv's shims fail SAM's
#              "Binary validation"), and the import check runs the same interpreter.
#
# The import check runs `python3.13 -I -S` (no site-packages, no PYTHON* variables, clean
# environment) with sys.path set to the standard library plus, as on Lambda, the function's
# folder and the layers' python/ folders. So a module missing from a layer, a wheel built for
# the wrong Python or CPU, or a handler importing something it was not shipped with, fails
# here instead of on the first invocation.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-.aws-sam/build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
SAM_CACHE_DIR=${SAM_CACHE_DIR:-.aws-sam/cache}
SAM=${SAM:-$ROOT/.venv-tools/bin/sam}
TOOLS_PY=$ROOT/.venv-tools/bin/python
LAMBDA_UNZIPPED_LIMIT=$((250 * 1024 * 1024)) # function + all its layers, unzipped

build_only=0
case "${1:-}" in
  --build-only) build_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

fail() { echo "check_build: FAIL: $*" >&2; exit 1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# ------------------------------------------------------------------ interpreter
if [[ -z "${PY313_BIN:-}" ]]; then
  pyenv_root=$(pyenv root 2>/dev/null || true)
  if [[ -n "$pyenv_root" && -x "$pyenv_root/versions/3.13.0/bin/python3.13" ]]; then
    PY313_BIN=$pyenv_root/versions/3.13.0/bin
  elif command -v python3.13 >/dev/null; then
    PY313_BIN=$(dirname "$(command -v python3.13)")
  else
    fail "no python3.13 found: install it (pyenv install 3.13.0) or set PY313_BIN"
  fi
fi
PY313=$PY313_BIN/python3.13
[[ -x "$PY313" ]] || fail "$PY313 is not executable (set PY313_BIN)"
[[ "$PY313_BIN" == */shims ]] && fail "PY313_BIN=$PY313_BIN is pyenv's shims: point it at a real interpreter"
[[ -x "$SAM" ]] || fail "$SAM not found: run 'make tools' first"
echo "python: $PY313 ($("$PY313" -c 'import platform; print(platform.python_version(), platform.machine())'))"

# ------------------------------------------------------------------ sam build
echo "== sam build -> $BUILD_DIR"
started=$SECONDS
PATH="$PY313_BIN:$PATH" SAM_CLI_TELEMETRY=0 "$SAM" build --build-dir "$BUILD_DIR" \
  --cache-dir "$SAM_CACHE_DIR" --template template.yaml
echo "-- sam build took $((SECONDS - started))s"
started=$SECONDS
"$PY313" "$ROOT/tools/precompile.py" "$BUILD_DIR"
echo "-- precompile took $((SECONDS - started))s"
[[ $build_only == 1 ]] && exit 0

# ------------------------------------------------------------------ what was built
# "<logical id> <handler> <its own layers, colon-separated, or ->" for every zip function of the
# built template (new functions and layers are picked up without editing this script).
mapfile -t functions < <("$TOOLS_PY" - "$BUILD_DIR/template.yaml" <<'PY'
import sys
from samtranslator.yaml_helper import yaml_parse

template = yaml_parse(open(sys.argv[1]).read())
handler_default = (template.get("Globals", {}).get("Function", {}) or {}).get("Handler")
for logical_id, resource in template.get("Resources", {}).items():
    if resource.get("Type") != "AWS::Serverless::Function":
        continue
    props = resource.get("Properties", {}) or {}
    if props.get("PackageType", "Zip") != "Zip" or "InlineCode" in props:
        continue
    # plain Refs only: the conditional JwksLayer (Fn::If) has its own check below
    own = [layer["Ref"] for layer in props.get("Layers", []) or [] if "Ref" in layer]
    print(logical_id, props.get("Handler", handler_default), ":".join(own) or "-")
PY
)
(( ${#functions[@]} )) || fail "no functions in $BUILD_DIR/template.yaml"

LAYER_PATHS=("$BUILD_DIR/DependenciesLayer/python" "$BUILD_DIR/SharedLayer/python")
for layer in "${LAYER_PATHS[@]}"; do
  [[ -d $layer ]] || fail "$layer missing: did the layer build?"
done

echo "== unzipped sizes"
layers_bytes=0
for layer in DependenciesLayer SharedLayer; do
  bytes=$(du -sb "$BUILD_DIR/$layer" | cut -f1)
  layers_bytes=$((layers_bytes + bytes))
  printf '  %-22s %6s MB  (%s files)\n' "$layer" "$(mb "$bytes")" \
    "$(find "$BUILD_DIR/$layer" -type f | wc -l)"
done
for entry in "${functions[@]}"; do
  read -r fn _ own <<<"$entry"
  bytes=$(du -sb "$BUILD_DIR/$fn" | cut -f1)
  total=$((bytes + layers_bytes))
  if [[ $own != - ]]; then
    for layer in ${own//:/ }; do total=$((total + $(du -sb "$BUILD_DIR/$layer" | cut -f1))); done
  fi
  printf '  %-22s %6s MB  (with the layers %s MB of 250 MB)\n' "$fn" "$(mb "$bytes")" \
    "$(mb "$total")"
  ((total <= LAMBDA_UNZIPPED_LIMIT)) || fail "$fn with its layers exceeds Lambda's 250 MB unzipped"
done

# ------------------------------------------------------------------ bytecode
# Every source of every built folder has a .pyc for this Python beside it, with the right
# magic number and PEP 552 flags 0b01 (hash-based, source not checked). A source that does
# not compile on this Python (a dependency's Python 2 test fixture) cannot be imported
# either, and is only counted.
echo "== bytecode ($("$PY313" -c 'import sys; print(sys.implementation.cache_tag)'), unchecked-hash)"
"$PY313" -I -S -B - "$BUILD_DIR" <<'PY' || fail "the build lacks valid bytecode (see above)"
import importlib.util, sys
from pathlib import Path

root = Path(sys.argv[1])
bad, skipped, good = [], 0, 0
for folder in sorted(p for p in root.iterdir() if p.is_dir()):
    for source in folder.rglob("*.py"):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.is_file():
            try:
                compile(source.read_bytes(), str(source), "exec")
            except (SyntaxError, ValueError):
                skipped += 1
                continue
            bad.append(f"{source.relative_to(root)}: no .pyc")
            continue
        header = cached.read_bytes()[:16]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            bad.append(f"{cached.relative_to(root)}: magic {header[:4]!r} is not this Python's")
        elif int.from_bytes(header[4:8], "little") != 0b01:
            bad.append(f"{cached.relative_to(root)}: flags {header[4:8].hex()} (not unchecked-hash)")
        elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
            bad.append(f"{cached.relative_to(root)}: hash does not match its source")
        else:
            good += 1
for line in bad[:10]:
    print(f"  FAIL {line}")
if bad:
    print(f"-- bytecode: {len(bad)} FAILED of {good + len(bad)}")
    sys.exit(1)
print(f"  OK   {good} modules carry unchecked-hash .pyc matching their source"
      f"{f' ({skipped} sources do not compile on this Python and have none)' if skipped else ''}")
PY

# ------------------------------------------------------------------ import check
# A clean environment with dummy values: importing must not need real settings or AWS
# (handlers read settings lazily), and nothing from this shell may leak in.
import_check() { # $1: label, $2: function folder or "", $3: python code
  env -i \
    PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 TZ=UTC \
    LAMBDA_TASK_ROOT="${2:-/var/task}" \
    AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
    POWERTOOLS_SERVICE_NAME=profile-photos POWERTOOLS_METRICS_NAMESPACE=ProfilePhotos \
    POWERTOOLS_TRACE_DISABLED=true POWERTOOLS_LOG_LEVEL=WARNING \
    OBJECT_STORAGE_PROVIDER=LOCAL LOCAL_STORAGE_BASE_PATH=/nonexistent/object-storage \
    LOCAL_STORAGE_SECRET=import-check-dummy-secret-0123456789abcdef \
    JWT_SECRET=import-check-dummy-jwt-secret-0123456789abcdef \
    PHOTOS_TABLE=import-check-photos USERS_TABLE=import-check-users \
    CHECK_SAMPLE_HEIC="${CHECK_SAMPLE_HEIC:-}" CHECK_LABEL="$1" CHECK_FUNCTION_DIR="$2" CHECK_LAYERS="$(IFS=:; echo "${LAYER_PATHS[*]}")${EXTRA_LAYER:+:$EXTRA_LAYER}" \
    "$PY313" -I -S -B -c "$PREAMBLE
$3"
}

# Shared by every run: build sys.path, then `check(module, attrs...)` imports and reports.
read -r -d '' PREAMBLE <<'PY' || true
import importlib, os, sys, traceback
stdlib = [p for p in sys.path if p]
assert not any("site-packages" in p for p in stdlib), stdlib
first = [os.environ["CHECK_FUNCTION_DIR"]] if os.environ["CHECK_FUNCTION_DIR"] else []
sys.path[:] = first + os.environ["CHECK_LAYERS"].split(":") + stdlib
allowed = tuple(first + os.environ["CHECK_LAYERS"].split(":") + stdlib)
built = tuple(first + os.environ["CHECK_LAYERS"].split(":"))
failed = []

# The bytecode guard: a module of the build whose .pyc is missing, stale or for another
# Python is compiled from its source by SourceFileLoader.source_to_code; record every such
# compile (-B: nothing is written back, as on Lambda's read-only mounts).
from importlib.machinery import SourceFileLoader
compiled_from_source = []
_source_to_code = SourceFileLoader.source_to_code
def _guard(self, data, path, *args, **kwargs):
    if str(path).startswith(built):
        compiled_from_source.append(str(path))
    return _source_to_code(self, data, path, *args, **kwargs)
SourceFileLoader.source_to_code = _guard

def check(name, *attrs):
    try:
        module = importlib.import_module(name)
        for attr in attrs:
            getattr(module, attr)
    except BaseException:
        failed.append(name)
        print(f"  FAIL {name}", flush=True)
        traceback.print_exc()
        return None
    origin = getattr(module, "__file__", None) or "(built in)"
    if origin != "(built in)" and not origin.startswith(allowed):
        failed.append(name)
        print(f"  FAIL {name}: loaded from {origin}, outside the build", flush=True)
        return None
    where = next((p for p in allowed if origin.startswith(p)), "")
    shown = origin[len(os.path.dirname(os.path.dirname(where))) + 1:] if where else origin
    print(f"  OK   {name}{' (' + ', '.join(attrs) + ')' if attrs else ''}  <- {shown}", flush=True)
    return module

def done():
    label = os.environ["CHECK_LABEL"]
    from_build = [m for m in list(sys.modules.values())
                  if (getattr(m, "__file__", None) or "").startswith(built)
                  and m.__file__.endswith(".py")]
    if compiled_from_source:
        failed.append("bytecode")
        print(f"  FAIL {len(compiled_from_source)} modules compiled from source, e.g. "
              f"{compiled_from_source[:3]}", flush=True)
    else:
        print(f"  OK   all {len(from_build)} modules of the build loaded from their .pyc", flush=True)
    if failed:
        print(f"-- {label}: {len(failed)} FAILED: {', '.join(failed)}", flush=True)
        sys.exit(1)
    print(f"-- {label}: ok", flush=True)
PY

status=0
echo "== layers (python3.13 -I -S; sys.path = stdlib + the two layers)"
import_check "layers" "" '
import pkgutil
check("boto3")
check("aws_lambda_powertools", "Logger", "Tracer", "Metrics")
check("aws_lambda_powertools.event_handler", "APIGatewayRestResolver")
check("aws_xray_sdk.core", "xray_recorder")  # the [tracer] extra: Tracer needs it on Lambda
jwt = check("jwt")
if jwt:  # HS256 needs nothing beyond the two layers
    token = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
    assert jwt.decode(token, "k" * 32, algorithms=["HS256"]) == {"sub": "x"}
    print("  OK   HS256 sign and verify")
    import importlib.util
    assert importlib.util.find_spec("cryptography") is None, "cryptography belongs in JwksLayer"
    print("  OK   cryptography is not in the default layers (it is JwksLayer)")
check("pynamodb.models", "Model")
check("python_multipart.multipart", "MultipartParser")
import importlib.util
assert importlib.util.find_spec("PIL") is None, "Pillow belongs in ImagingLayer"
print("  OK   Pillow is not in the default layers (it is ImagingLayer)")
package = check("profile_photos")
named = [f"profile_photos.{name}" for name in ("settings", "errors", "signing", "validation")]
IMAGING = {f"profile_photos.images.{name}" for name in ("render", "avatar", "pixels")}  # ImagingLayer below
for name in named:
    check(name)
if package:  # every other module of the shared package too
    for info in pkgutil.walk_packages(package.__path__, "profile_photos."):
        if info.name not in named and info.name not in IMAGING:
            check(info.name)
done()
' || status=1

JWKS_LAYER="$BUILD_DIR/JwksLayer/python"
[[ -d $JWKS_LAYER ]] || fail "$JWKS_LAYER missing: did the layer build?"
echo "== JwksLayer (stdlib + the two layers + JwksLayer, as a JWKS deployment has)"
EXTRA_LAYER="$JWKS_LAYER" import_check "JwksLayer" "" '
if check("jwt.algorithms", "RSAAlgorithm", "ECAlgorithm"):
    # the compiled cryptography wheel really runs on this interpreter and CPU
    from cryptography.hazmat.primitives.asymmetric import ec
    ec.generate_private_key(ec.SECP256R1())
    print("  OK   cryptography native code (EC key generated)")
done()
' || status=1

IMAGING_LAYER="$BUILD_DIR/ImagingLayer/python"
FACES_LAYER="$BUILD_DIR/FacesLayer/python"
[[ -d $IMAGING_LAYER ]] || fail "$IMAGING_LAYER missing: did the layer build?"
[[ -d $FACES_LAYER ]] || fail "$FACES_LAYER missing: did the layer build?"
# The imaging layer only decodes HEIC (pi-heif): the sample is written here by the dev venv's
# pillow-heif (testkit), as a phone would have written it.
SAMPLE_HEIC="$BUILD_DIR/check-sample.heic"
"$ROOT/.venv/bin/python" -c 'import sys; from testkit.images import heic_bytes; open(sys.argv[1], "wb").write(heic_bytes())' "$SAMPLE_HEIC"
echo "== ImagingLayer + FacesLayer (stdlib + the two layers + both, as the renditions function has)"
EXTRA_LAYER="$IMAGING_LAYER:$FACES_LAYER" CHECK_SAMPLE_HEIC="$SAMPLE_HEIC" import_check "ImagingLayer" "" '
render = check("profile_photos.images.render", "render", "decode")
avatar = check("profile_photos.images.avatar", "render_photo")
faces = check("profile_photos.images.faces", "find")
if render and avatar and faces:
    # the compiled Pillow, libheif, dlib and numpy wheels really run here: JPEG and HEIC in,
    # WebP sizes and squares out, and the face detector built and run
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, "JPEG")
    samples = {"image/jpeg": buffer.getvalue()}
    with open(os.environ["CHECK_SAMPLE_HEIC"], "rb") as heic:
        samples["image/heic"] = heic.read()
    for mime, data in samples.items():
        made = avatar.render_photo(data, mime, (32,))
        assert made.sizes[32].data[:4] == b"RIFF" and made.squares[32].data[:4] == b"RIFF"
        print(f"  OK   {mime} rendered to WebP sizes and squares (Pillow, libheif)")
    faces._detector()
    assert not faces.detect(Image.new("L", (128, 96), 128)), "a flat grey image has no face"
    print("  OK   dlib HOG face detector built and run (dlib, numpy native code)")
done()
' || status=1

for entry in "${functions[@]}"; do
  read -r fn handler own <<<"$entry"
  module=${handler%.*}
  func=${handler##*.}
  extra=""
  if [[ $own != - ]]; then
    for layer in ${own//:/ }; do extra+="${extra:+:}$BUILD_DIR/$layer/python"; done
  fi
  echo "== $fn (sys.path = $BUILD_DIR/$fn + the two layers${extra:+ + its own} + stdlib)"
  EXTRA_LAYER="$extra" import_check "$fn" "$BUILD_DIR/$fn" "
module = check('$module', '$func')
if module is not None and not callable(getattr(module, '$func')):
    failed.append('$handler'); print('  FAIL $handler is not callable')
done()
" || status=1
done

if ((status)); then
  fail "the built artefacts do not import (see above)"
fi
echo "check_build: built layers and every handler import on $("$PY313" -c 'import platform; print(platform.python_version())') with nothing but the build on sys.path"
