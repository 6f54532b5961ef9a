#!/usr/bin/env python3
"""Writes the external data a structure-only bundle's manifests describe (NumPy only).

`npx snoopi make-bundle --structure-only` writes each model.onnx with its weights named as external
data in model.onnx_data and a manifest, model.weights.json, saying how each tensor is drawn. This
script draws them exactly as the TypeScript GraphBuilder does (gpu-service/src/onnx/weight-manifest.ts):
normal n of a graph's stream is Box-Muller on mulberry32 uniforms 2*(n//2) and 2*(n//2)+1, cos for
even n and sin for odd; a value is float64 mean + normal*std rounded to float32 (then to float16 for
fp16 graphs). Every uniform depends on its index alone, so chunks are drawn in parallel processes.

    python3 write_weights.py MANIFEST.json [MANIFEST.json ...] [--workers N] [--force] [--hash]
"""
from __future__ import annotations

import argparse
import concurrent.futures as futures
import hashlib
import json
import os
import sys
import time

import numpy as np

GOLDEN = np.uint32(0x6D2B79F5)
CHUNK = 1 << 22  # values per work item
DTYPES = {"float32": np.float32, "float16": np.float16}


def uniforms(seed: int, k: np.ndarray) -> np.ndarray:
    """mulberry32 output number k (uint64 array) of `seed` as float64 in (0, 1)."""
    with np.errstate(over="ignore"):
        t = np.uint32(seed) + (k + 1).astype(np.uint32) * GOLDEN
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
        t = t ^ (t >> np.uint32(14))
    return (t.astype(np.float64) + 0.5) / 4294967296.0


def normals(seed: int, start: int, count: int) -> np.ndarray:
    """Normals start .. start+count-1 of the stream, float64."""
    first = start // 2
    pairs = np.arange(first, (start + count - 1) // 2 + 1, dtype=np.uint64)
    r = np.sqrt(-2.0 * np.log(uniforms(seed, 2 * pairs)))
    theta = 2 * np.pi * uniforms(seed, 2 * pairs + 1)
    out = np.empty(2 * len(pairs), dtype=np.float64)
    out[0::2] = r * np.cos(theta)
    out[1::2] = r * np.sin(theta)
    skip = start - 2 * first
    return out[skip : skip + count]


def chunk_bytes(manifest: dict, entry: dict, first: int, count: int) -> bytes:
    """Stored bytes of values first .. first+count-1 of one tensor."""
    init = entry["init"]
    if "fill" in init:
        values = np.full(count, init["fill"], dtype=np.float32)
    else:
        n = init["normal"]
        values = (n["mean"] + normals(manifest["seed"], n["start"] + first, count) * n["std"]).astype(np.float32)
    return values.astype(DTYPES[manifest["dtype"]]).tobytes()


def work_items(manifest: dict):
    """(entry index, first value, count, byte offset) covering the data file."""
    size = np.dtype(DTYPES[manifest["dtype"]]).itemsize
    expected = 0
    for i, entry in enumerate(manifest["tensors"]):
        if entry["offset"] != expected:
            raise ValueError(f"{entry['name']} starts at {entry['offset']}, expected {expected}")
        total = int(np.prod(entry["dims"], dtype=np.int64)) if entry["dims"] else 1
        if total * size != entry["length"]:
            raise ValueError(f"{entry['name']}: {total} values of {size} bytes, manifest length {entry['length']}")
        for first in range(0, total, CHUNK):
            count = min(CHUNK, total - first)
            yield i, first, count, entry["offset"] + first * size
        expected += entry["length"]
    if expected != manifest["bytes"]:
        raise ValueError(f"tensors cover {expected} bytes, manifest says {manifest['bytes']}")


_STATE: dict = {}


def _init(manifest_path: str, data_path: str) -> None:
    with open(manifest_path) as f:
        _STATE["manifest"] = json.load(f)
    _STATE["fd"] = os.open(data_path, os.O_WRONLY)


def _write(item) -> int:
    i, first, count, offset = item
    manifest = _STATE["manifest"]
    data = chunk_bytes(manifest, manifest["tensors"][i], first, count)
    os.pwrite(_STATE["fd"], data, offset)
    return len(data)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def write_data(manifest_path: str, workers: int = 1, force: bool = False, want_hash: bool = False) -> dict:
    """Writes the manifest's data file beside it; returns path, bytes, seconds, sha256 (when known), skipped.

    A stamp beside the data (`<data>.stamp`: the manifest's digest and the data's SHA-256) lets a rerun
    keep the file without drawing or hashing it again.
    """
    started = time.perf_counter()
    with open(manifest_path, "rb") as f:
        text = f.read()
    manifest = json.loads(text)
    path = os.path.join(os.path.dirname(os.path.abspath(manifest_path)), manifest["dataFile"])
    stamp_path = path + ".stamp"
    stamp = {"manifest": hashlib.sha256(text).hexdigest()}
    check = want_hash or "sha256" in manifest
    result = {"path": path, "bytes": manifest["bytes"], "expectedSha256": manifest.get("sha256")}
    if not force and os.path.exists(path) and os.path.getsize(path) == manifest["bytes"] and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            old = json.load(f)
        if old.get("manifest") == stamp["manifest"] and (old.get("sha256") or not check):
            return {**result, "sha256": old.get("sha256"), "skipped": True, "seconds": time.perf_counter() - started}
    items = list(work_items(manifest))
    with open(path, "wb") as f:
        f.truncate(manifest["bytes"])
    if workers <= 1 or len(items) < 2:
        _init(manifest_path, path)
        written = sum(_write(item) for item in items)
        os.close(_STATE.pop("fd"))
    else:
        with futures.ProcessPoolExecutor(workers, initializer=_init, initargs=(manifest_path, path)) as pool:
            written = sum(pool.map(_write, items, chunksize=1))
    if written != manifest["bytes"]:
        raise RuntimeError(f"{path}: wrote {written} bytes, expected {manifest['bytes']}")
    digest = file_sha256(path) if check else None
    with open(stamp_path, "w") as f:
        json.dump({**stamp, "sha256": digest}, f)
    return {**result, "sha256": digest, "skipped": False, "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifests", nargs="+")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--force", action="store_true", help="rewrite even when the file is already there")
    parser.add_argument("--hash", action="store_true", help="print each file's SHA-256")
    args = parser.parse_args(argv)
    for manifest in args.manifests:
        r = write_data(manifest, args.workers, args.force, args.hash)
        match = "" if r["expectedSha256"] is None else (" sha256 matches" if r["sha256"] == r["expectedSha256"] else " SHA-256 MISMATCH")
        print(f"{r['path']}: {r['bytes'] / 1e6:.1f} MB {'kept' if r['skipped'] else 'written'} in {r['seconds']:.2f} s{match}"
              + (f" {r['sha256']}" if args.hash and r["sha256"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
