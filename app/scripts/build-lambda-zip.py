#!/usr/bin/env python3
"""Build the Lambda zip of the predict function (stocksense.lambda_predict.handler), or of the
refresh function (stocksense.lambda_refresh.handler) with --function refresh.

    app/.venv/bin/python app/scripts/build-lambda-zip.py [--function predict|refresh] [--out DIR]
        [--python-version 3.12] [--compile-with /path/to/python3.12]

Contents: the stocksense wheel without its dependencies, plus the function's dependencies only, as
manylinux x86_64 binary wheels from PyPI for the Lambda runtime's Python, pinned by
app/constraints.txt. predict: the serving dependencies (numpy, SQLAlchemy, ai-edge-litert and what
they need); left out: boto3 (the Lambda runtime provides it), the web stack (Flask, waitress,
marshmallow: the handler imports none of them, app/.importlinter), and of course TensorFlow, keras
and pandas. refresh: the ingest extra (yfinance, pandas) and SQLAlchemy (stocksense.data imports
it), no LiteRT, no TensorFlow; a second, different zip, as only this function downloads prices.

Prints the zipped and unzipped sizes; fails when the unzipped size reaches Lambda's 250 MB.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

APP = Path(__file__).resolve().parents[1]
SERVING_DEPS = ("numpy", "SQLAlchemy", "ai-edge-litert")
REFRESH_DEPS = ("SQLAlchemy", "yfinance", "pandas")
# --function: (handler, dependencies)
FUNCTIONS = {"predict": ("stocksense.lambda_predict.handler", SERVING_DEPS),
             "refresh": ("stocksense.lambda_refresh.handler", REFRESH_DEPS)}
# Lambda's python3.12/3.13 runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels
# (recent numpy ships only those), manylinux_2_27 (ai-edge-litert) and manylinux2014 all load
# there; pip does not widen --platform to older tags by itself, hence the list.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux2014_x86_64")
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                   check=True)


def build_wheel(into: Path) -> Path:
    pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(into),
        str(APP))
    return next(into.glob("stocksense-*.whl"))


def install(target: Path, wheel: Path, python_version: str, deps: tuple[str, ...]) -> None:
    common = ["install", "--quiet", "--target", str(target), "--only-binary=:all:",
              *(f"--platform={p}" for p in PLATFORMS), "--python-version", python_version,
              "--implementation", "cp"]
    pip(*common, "--no-deps", str(wheel))
    pip(*common, "-c", str(APP / "constraints.txt"), *deps)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: no use on Lambda


def precompile(target: Path, python: str, python_version: str) -> None:
    """Byte-compile with the runtime's own CPython: /var/task is read-only on Lambda, so modules
    without .pyc are compiled again on every cold start. unchecked-hash: never re-validated."""
    found = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    if found != python_version:
        raise SystemExit(f"--compile-with {python} is Python {found}, not {python_version}")
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
                    "unchecked-hash", str(target)], check=True)


def write_zip(source: Path, out: Path) -> int:
    """Zip `source` (deterministic order); the unzipped size in bytes."""
    total = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(source).as_posix())
                total += path.stat().st_size
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--function", default="predict", choices=sorted(FUNCTIONS))
    parser.add_argument("--out", type=Path, default=APP / "dist" / "lambda")
    parser.add_argument("--python-version", default="3.12", choices=("3.12", "3.13"))
    parser.add_argument("--compile-with", metavar="PYTHON",
                        help="a CPython of --python-version to ship .pyc files (faster cold start)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    handler, deps = FUNCTIONS[args.function]
    zip_path = args.out / f"stocksense-{args.function}-py{args.python_version}-x86_64.zip"
    with tempfile.TemporaryDirectory(prefix="lambda-build-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "wheel")
        install(work / "package", wheel, args.python_version, deps)
        if args.compile_with:
            precompile(work / "package", args.compile_with, args.python_version)
        unzipped = write_zip(work / "package", zip_path)
    zipped = zip_path.stat().st_size
    mib = 1024 * 1024
    print(f"zip: {zip_path}")
    print(f"handler: {handler}  runtime: python{args.python_version} x86_64  "
          f"precompiled: {'yes' if args.compile_with else 'no (--compile-with)'}")
    print(f"zipped: {zipped / mib:.1f} MiB  unzipped: {unzipped / mib:.1f} MiB "
          f"(Lambda limit 250 MiB unzipped)")
    if unzipped >= LAMBDA_UNZIPPED_LIMIT:
        print("error: the unzipped package reaches Lambda's 250 MiB limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
