"""The benchmarks' own C load generators (bench/*_load.c), built under .bench/ on first use."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def compiled(name):
    """bench/<name>.c compiled to .bench/<name> (again when the source is newer)."""
    source, binary = ROOT / "bench" / f"{name}.c", ROOT / ".bench" / name
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        binary.parent.mkdir(exist_ok=True)
        # The Swift toolchain brings clang; a Debian machine may have cc as well.
        compiler = shutil.which("cc") or shutil.which("clang")
        if not compiler:
            sys.exit(f"no C compiler (cc or clang) for bench/{name}.c")
        subprocess.run([compiler, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(source)], check=True, timeout=120)
    return binary
