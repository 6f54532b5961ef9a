#!/usr/bin/env python3
"""The GPU tier's device bench: one run on a lent GPU machine (bash gpu-service/bench/device/run.sh).

Prints the environment first (GPU, CUDA, onnxruntime's version and providers, torch), writes the
carried structure-only bundles' weights (write_weights.py), then times the plan (plan.json,
bench_plan.py) group by group — text encoder, UNet plain / NASA / NASA with projection / NAG / CFG
(batch 2N) and VAE decoder at each batch, fp16 then fp32 — on onnxruntime's CUDA provider, else on
PyTorch kernels (onnx_torch.py), within a time budget. After each group the JSON result is rewritten
(`--out`/device-bench.json), so a run cut short still leaves what it measured.

    python3 device_bench.py --carry DIR --out DIR [--budget-s 300] [--work /tmp/snoopi-device]
    python3 device_bench.py --carry DIR --out DIR --dry-run    # no onnxruntime, no torch: the plan's logic only
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_plan as bp  # noqa: E402
import write_weights as ww  # noqa: E402


def log(line: str) -> None:
    print(line, flush=True)


def try_import(name: str):
    try:
        return __import__(name)
    except Exception as e:  # noqa: BLE001 - a broken install is reported, not fatal
        return e


def environment(dry_run: bool) -> dict:
    """What the machine has; printed before anything else."""
    import numpy as np

    env = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(), "numpy": np.__version__}
    if shutil.which("nvidia-smi"):
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm", "--format=csv,noheader"], capture_output=True, text=True)
        env["nvidiaSmi"] = q.stdout.strip() or q.stderr.strip()
    if dry_run:
        env["onnxruntime"] = env["torch"] = "not imported (dry run)"
        return env
    ort = try_import("onnxruntime")
    if isinstance(ort, Exception):
        env["onnxruntime"] = {"error": str(ort)}
    else:
        capi = os.path.join(os.path.dirname(ort.__file__), "capi")
        env["onnxruntime"] = {
            "version": ort.__version__,
            "device": ort.get_device(),
            "providers": ort.get_available_providers(),
            "providerLibraries": sorted(f for f in os.listdir(capi) if f.startswith("libonnxruntime_providers")) if os.path.isdir(capi) else [],
        }
    torch = try_import("torch")
    if isinstance(torch, Exception):
        env["torch"] = {"error": str(torch)}
    else:
        t = {"version": torch.__version__, "cuda": torch.version.cuda, "cudaAvailable": torch.cuda.is_available()}
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            t.update(gpu=p.name, memoryGiB=round(p.total_memory / 2**30, 1), multiprocessors=p.multi_processor_count, cudnn=torch.backends.cudnn.version())
        env["torch"] = t
    return env


def stage(carry: str, work: str, index: dict, dtypes: list[str], workers: int) -> list[dict]:
    """Copies the carried graphs to `work` and writes their weights beside them (kept if already right)."""
    out = []
    for dtype in dtypes:
        bundle = index["bundles"][dtype]
        src, dst = os.path.join(carry, bundle["dir"]), os.path.join(work, bundle["dir"])
        for root, _, files in os.walk(src):
            rel = os.path.relpath(root, src)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            for f in files:
                target = os.path.join(dst, rel, f)
                if not f.endswith("_data") and (not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(os.path.join(root, f))):
                    shutil.copy2(os.path.join(root, f), target)
        for manifest in bundle["manifests"]:
            r = ww.write_data(os.path.join(dst, manifest), workers=workers)
            match = None if r["expectedSha256"] is None else r["sha256"] == r["expectedSha256"]
            out.append({"dtype": dtype, "manifest": manifest, "bytes": r["bytes"], "seconds": round(r["seconds"], 2), "skipped": r["skipped"], "sha256": r["sha256"], "sha256MatchesTypeScript": match})
            log(f"  weights {bundle['dir']}/{manifest}: {r['bytes'] / 1e9:.2f} GB {'kept' if r['skipped'] else 'written'} in {r['seconds']:.1f} s"
                + ("" if match is None else (" (SHA-256 = the TypeScript writer's)" if match else " (SHA-256 DIFFERS from the TypeScript writer's)")))
    return out


class FakeRunner:
    """--dry-run: no onnxruntime, no torch. Loads nothing; a call touches its feeds (the plan's logic runs, not a model)."""

    name = "dry-run"

    def __init__(self, plan, index, latent):
        self.plan, self.index, self.latent, self.feeds = plan, index, latent, {}

    def load(self, folder: str, graphs: dict, keys: list[str]) -> dict:
        self.graphs = {k: graphs[k] for k in keys}
        return {k: 0.0 for k in keys}

    def feeds_for(self, case):
        if case.key not in self.feeds:
            self.feeds[case.key] = bp.make_feeds(self.graphs[case.graph]["inputs"], case, self.plan, self.latent, self.index["padId"])
        return self.feeds[case.key]

    def time(self, case) -> float:
        t0 = time.perf_counter()
        sum(float(v.reshape(-1)[0]) for v in self.feeds_for(case).values())
        return (time.perf_counter() - t0) * 1000

    def release(self) -> None:
        self.feeds = {}


class OrtRunner(FakeRunner):
    """onnxruntime sessions with the service's settings (graph optimisation `all`, default provider options)."""

    def __init__(self, plan, index, latent, provider: str, work: str):
        super().__init__(plan, index, latent)
        import onnxruntime as ort

        self.ort, self.provider, self.work = ort, provider, work
        self.name = {"CUDAExecutionProvider": "onnxruntime-cuda", "TensorrtExecutionProvider": "onnxruntime-tensorrt", "CPUExecutionProvider": "onnxruntime-cpu"}[provider]
        self.sessions = {}

    def load(self, folder, graphs, keys):
        self.graphs = {k: graphs[k] for k in keys}
        so = self.ort.SessionOptions()
        so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.inter_op_num_threads = 1
        options = {}
        if self.provider == "TensorrtExecutionProvider":
            options = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": os.path.join(self.work, "trt-cache")}
        providers = [(self.provider, options)] + ([("CUDAExecutionProvider", {})] if self.provider == "TensorrtExecutionProvider" else [])
        seconds = {}
        for k in keys:
            t0 = time.perf_counter()
            s = self.ort.InferenceSession(os.path.join(folder, graphs[k]["file"]), so, providers=providers)
            if s.get_providers()[0] != self.provider:
                raise RuntimeError(f"{k}: onnxruntime fell back to {s.get_providers()} instead of {self.provider}")
            self.sessions[k] = s
            seconds[k] = round(time.perf_counter() - t0, 2)
            log(f"  {self.name}: {k} loaded in {seconds[k]:.1f} s")
        return seconds

    def time(self, case) -> float:
        session, feeds = self.sessions[case.graph], self.feeds_for(case)
        outputs = [self.graphs[case.graph]["outputs"][0]["name"]]  # the service reads one output (text: last_hidden_state)
        t0 = time.perf_counter()
        session.run(outputs, feeds)
        return (time.perf_counter() - t0) * 1000

    def release(self):
        self.sessions, self.feeds = {}, {}
        gc.collect()


class TorchRunner(FakeRunner):
    """The same graphs on PyTorch kernels (onnx_torch.py); on CUDA each case is captured once as a CUDA graph."""

    def __init__(self, plan, index, latent, device: str):
        super().__init__(plan, index, latent)
        import torch

        import onnx_torch

        self.torch, self.onnx_torch, self.device = torch, onnx_torch, device
        self.name = f"torch-{device}"
        torch.set_grad_enabled(False)
        if device == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True  # onnxruntime's CUDA provider uses TF32 by default too
            torch.backends.cudnn.allow_tf32 = True
        self.models, self.captured = {}, {}
        # One memory pool for every captured call: each replay's output is read before the next replay, so
        # calls may reuse each other's scratch memory (21 private pools would not fit at fp32, batch 16).
        self.pool = torch.cuda.graph_pool_handle() if device == "cuda" else None

    def load(self, folder, graphs, keys):
        self.graphs = {k: graphs[k] for k in keys}
        store = self.onnx_torch.WeightStore(self.device)
        seconds = {}
        for k in keys:
            t0 = time.perf_counter()
            self.models[k] = self.onnx_torch.TorchGraph(os.path.join(folder, graphs[k]["file"]), store)
            seconds[k] = round(time.perf_counter() - t0, 2)
            log(f"  {self.name}: {k} loaded in {seconds[k]:.1f} s")
        return seconds

    def _capture(self, case):
        torch, model, feeds = self.torch, self.models[case.graph], self.feeds_for(case)
        static = {k: torch.from_numpy(v).to(self.device) for k, v in feeds.items()}
        if self.device != "cuda":
            return {"static": static, "graph": None}
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                model(static)
        torch.cuda.current_stream().wait_stream(stream)
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                outs = model(static)
            return {"static": static, "graph": graph, "outs": outs}
        except Exception as e:  # noqa: BLE001 - fall back to eager calls, and say so
            log(f"  {case.key}: CUDA graph capture failed ({type(e).__name__}: {str(e)[:120]}); eager calls")
            torch.cuda.synchronize()
            return {"static": static, "graph": None}

    def time(self, case) -> float:
        torch = self.torch
        if case.key not in self.captured:
            self.captured[case.key] = self._capture(case)
        c, feeds = self.captured[case.key], self.feeds_for(case)
        t0 = time.perf_counter()
        for k, v in feeds.items():  # host → device, as session.run copies numpy inputs
            c["static"][k].copy_(torch.from_numpy(v))
        outs = self.models[case.graph](c["static"])[:1] if c["graph"] is None else (c["graph"].replay() or c["outs"][:1])
        outs[0].cpu()  # device → host, which waits for the call
        return (time.perf_counter() - t0) * 1000

    def release(self):
        self.models, self.captured, self.feeds, self.pool = {}, {}, {}, None
        gc.collect()
        if self.device == "cuda":
            self.torch.cuda.empty_cache()


def ort_providers(env: dict) -> list[str]:
    ort = env.get("onnxruntime")
    return ort.get("providers", []) if isinstance(ort, dict) else []


def probe_ort_cuda() -> str | None:
    """None if a one-node model really runs on onnxruntime's CUDA provider, else why not (it falls back to the CPU quietly)."""
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
        graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe", [x], [y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        s = ort.InferenceSession(model.SerializeToString(), providers=["CUDAExecutionProvider"])
        if s.get_providers()[0] != "CUDAExecutionProvider":
            return f"the session fell back to {s.get_providers()}"
        s.run(None, {"x": np.ones(4, dtype=np.float32)})
        del onnx
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e)[:300]}"


def gpu_runtimes(env: dict) -> list[str]:
    """Working GPU runtimes, best first."""
    found = []
    if "CUDAExecutionProvider" in ort_providers(env):
        why = probe_ort_cuda()
        env["onnxruntimeCudaProbe"] = why or "ok"
        if why is None:
            found.append("onnxruntime-cuda")
    t = env.get("torch")
    if isinstance(t, dict) and t.get("cudaAvailable"):
        found.append("torch-cuda")
    return found


def service_status(env: dict) -> dict:
    """The Node service on the device: dropped before trying (README.md, "The service run")."""
    ort = env.get("onnxruntime")
    libs = ort.get("providerLibraries", []) if isinstance(ort, dict) else []
    return {
        "attempted": False,
        "status": "dropped",
        "reason": "a Node binary (xz, stripped: 26.2 MB) + onnxruntime-node's libonnxruntime.so.1 (xz: 12.6 MB) + sharp's libvips (xz: 6.4 MB) "
        "+ the working tree (~19 MiB) + this carry (~5 MiB) is ~69 MB, over the device tool's 64 MiB",
        "deviceOnnxruntimeVersion": ort.get("version") if isinstance(ort, dict) else None,
        "deviceCudaProviderLibrary": "libonnxruntime_providers_cuda.so" in libs,
    }


def make_runner(runtime: str, plan, index, latent, work):
    if runtime == "dry-run":
        return FakeRunner(plan, index, latent)
    if runtime.startswith("onnxruntime-"):
        provider = {"onnxruntime-cuda": "CUDAExecutionProvider", "onnxruntime-tensorrt": "TensorrtExecutionProvider", "onnxruntime-cpu": "CPUExecutionProvider"}[runtime]
        return OrtRunner(plan, index, latent, provider, work)
    return TorchRunner(plan, index, latent, runtime.split("-", 1)[1])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="device bench (see the module doc)")
    ap.add_argument("--carry", default=os.path.join(HERE, ".carry"))
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(HERE, ".out"))
    ap.add_argument("--work", default="/tmp/snoopi-device")
    ap.add_argument("--budget-s", type=float, default=None, help="seconds for the whole run (default: plan.json budgetS)")
    ap.add_argument("--dry-run", action="store_true", help="no onnxruntime or torch: the plan, weights and JSON only")
    ap.add_argument("--runtime", default="auto", help="auto (best GPU runtime), or e.g. torch-cpu, onnxruntime-cpu")
    ap.add_argument("--dtypes", default=None, help="comma list; default: the carried ones in plan order")
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--latent", type=int, default=None, help="latent side override (a CPU check of the sd21 graphs: 8)")
    ap.add_argument("--batches", default=None, help="comma list overriding the preset's batches")
    args = ap.parse_args(argv)

    started_wall, t_start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.perf_counter()
    plan = bp.load_plan()
    budget = args.budget_s if args.budget_s is not None else plan["budgetS"]
    deadline = t_start + budget
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.carry, "index.json")) as f:
        index = json.load(f)
    preset = index["preset"]
    if args.latent:
        plan["presets"][preset]["latentSide"] = args.latent
    if args.batches:
        plan["presets"][preset]["batches"] = [int(b) for b in args.batches.split(",")]
    latent = plan["presets"][preset]["latentSide"]

    env = environment(args.dry_run)
    log("environment:\n" + json.dumps(env, indent=2))
    gpu = gpu_runtimes(env)
    if args.dry_run:
        primary = "dry-run"
    elif args.runtime != "auto":
        primary = args.runtime
    elif gpu:
        primary = gpu[0]
    else:
        primary = None
    log(f"primary runtime: {primary or 'none (no GPU runtime found: nothing is timed)'}; budget {budget:.0f} s")

    carried = [d for d in ("fp16", "fp32") if d in index["bundles"]]
    dtypes = args.dtypes.split(",") if args.dtypes else carried
    result = {
        "schema": bp.SCHEMA, "runner": "python", "mode": "dry-run" if args.dry_run else ("device" if primary in gpu else "cpu-check"), "preset": preset,
        "latentSide": latent, "imageSide": latent * 8, "startedAt": started_wall, "environment": env,
        "plan": {k: plan[k] for k in ("rounds", "minRounds", "warmupRuns", "budgetS", "groupMinS")} | {"budgetS": budget, "batches": plan["presets"][preset]["batches"]},
        "carry": {k: index.get(k) for k in ("gitCommit", "createdAt", "rewrites")},
        "weights": [], "groups": [], "service": service_status(env), "notes": [],
    }
    out_path = os.path.join(args.out, "device-bench.json")

    def save():
        result["seconds"] = round(time.perf_counter() - t_start, 1)
        with open(out_path, "w") as f:
            json.dump(result, f, indent=1)

    log("weights:")
    result["weights"] = stage(args.carry, args.work, index, dtypes, args.workers)
    save()

    groups = []
    for g in plan["groups"]:
        if g["dtype"] not in dtypes:
            continue
        runtime = primary if g["runtime"] == "primary" else g["runtime"]
        entry = {"runtime": runtime or "none", "dtype": g["dtype"]}
        if runtime is None:
            entry.update(status="skipped", reason="no GPU runtime (onnxruntime has no CUDA provider and torch sees no CUDA device)")
        elif runtime == "onnxruntime-tensorrt" and "TensorrtExecutionProvider" not in ort_providers(env):
            entry.update(status="skipped", reason="onnxruntime has no TensorRT provider")
        groups.append((g, runtime, entry))
        result["groups"].append(entry)
    for i, (g, runtime, entry) in enumerate(groups):
        remaining = deadline - time.perf_counter()
        need = g.get("minS", plan["groupMinS"])
        if "status" not in entry and remaining < need:
            entry.update(status="skipped", reason=f"budget: {remaining:.0f} s left, this group needs {need} s")
        if "status" in entry:
            log(f"group {entry['runtime']} {g['dtype']}: {entry['status']} ({entry['reason']})")
            save()
            continue
        # This group's share of what is left: its weight over the weights of the groups still to run.
        weights = [x.get("share", 1.0) for x, _, e in groups[i:] if "status" not in e]
        group_deadline = time.perf_counter() + remaining * g.get("share", 1.0) / sum(weights)
        cases = bp.group_cases(plan, preset, g)
        bundle = index["bundles"][g["dtype"]]
        keys = sorted({c.graph for c in cases})
        log(f"group {runtime} {g['dtype']}: {len(cases)} cases, {remaining:.0f} s left, {group_deadline - time.perf_counter():.0f} s for this group")
        t0 = time.perf_counter()
        runner = None
        try:
            runner = make_runner(runtime, plan, index, latent, args.work)
            entry["loadSeconds"] = runner.load(os.path.join(args.work, bundle["dir"]), bundle["graphs"], keys)
            measured = bp.run_group(runner, cases, plan, group_deadline, deadline, log=log)
            entry.update(status="measured", rounds=measured["rounds"], roundSecondsEstimate=round(measured["roundSecondsEstimate"], 3), **bp.summarize(cases, measured))
            if measured["errors"]:
                entry["errors"] = measured["errors"]
            if len(measured["errors"]) == len(cases):
                entry.update(status="failed", reason=f"every case failed, e.g. {next(iter(measured['errors'].values()))}")
        except Exception as e:  # noqa: BLE001 - a failing group is recorded and the next one runs
            entry.update(status="failed", reason=f"{type(e).__name__}: {str(e)[:500]}")
            log(f"  failed: {entry['reason']}")
        finally:
            if runner is not None:
                runner.release()
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        save()
    if primary == "torch-cuda":
        result["notes"].append("onnxruntime had no CUDA provider: figures are the same ONNX graphs run on PyTorch CUDA kernels (onnx_torch.py, one CUDA graph per call), not onnxruntime")
    result["finishedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save()
    log(bp.markdown(result))
    log(f"\nwrote {out_path} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
