#!/usr/bin/python3
"""Fills firmware/cache/ from firmware/manifest.json: copies each loader from the Debian
package the manifest names, checks its sha256, and replaces the cached file atomically.
Safe to run again: a cached file with the right hash is left alone."""
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    manifest_path = HERE / "manifest.json"
    cache = HERE / "cache"
    cache.mkdir(exist_ok=True)
    loaders = json.loads(manifest_path.read_text())["loaders"]
    failed = False
    for index, loader in enumerate(loaders):
        entry = f"{manifest_path}: loaders[{index}] {loader['file']}"
        target = cache / loader["file"]
        if target.exists() and sha256(target) == loader["sha256"]:
            continue
        source = Path(loader["from"]["path"])
        if not source.exists():
            print(f"{entry}: {source} is missing; install Debian package "
                  f"{loader['from']['debian_package']} ({loader['from']['version']})", file=sys.stderr)
            failed = True
            continue
        actual = sha256(source)
        if actual != loader["sha256"]:
            print(f"{entry}: {source} has sha256 {actual}, the manifest pins {loader['sha256']} "
                  f"(package {loader['from']['debian_package']} {loader['from']['version']}); "
                  "check the new build and update the manifest", file=sys.stderr)
            failed = True
            continue
        partial = target.with_suffix(target.suffix + ".partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        print(f"firmware: {loader['file']} ({loader['architecture']}) from {source}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
