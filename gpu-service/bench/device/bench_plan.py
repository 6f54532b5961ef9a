"""The timing plan of the device bench (plan.json), shared by every runtime; no onnxruntime or torch here.

Cases: per batch, the text encoder, the UNet (plain, NASA, NASA with projection, NAG; CFG is the plain
UNet at batch 2N) and the VAE decoder. A group (one runtime, one dtype) warms every case up, then runs
rounds in which each case runs once, the order rotated by one each round, so machine noise hits the
cases alike; the figure of a case is the median of its rounds (warm-up excluded). dry-run.ts mirrors
this file for onnxruntime-node; bench-device.test.ts checks that both list the same cases.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = "snoopi-device-bench/1"


def load_plan(path: str = os.path.join(HERE, "plan.json")) -> dict:
    with open(path) as f:
        return json.load(f)


@dataclass(frozen=True)
class Case:
    component: str  # text_encoder | unet | vae_decoder
    variant: str  # "-" outside the UNet
    batch: int  # images
    run_batch: int  # rows of the call (CFG: 2N)
    graph: str  # key in the carry index

    @property
    def key(self) -> str:
        return f"{self.component}/{self.variant}/b{self.batch}"


def group_cases(plan: dict, preset: str, group: dict) -> list[Case]:
    """The cases of one group, in plan order (batch, component, variant)."""
    batches = group.get("batches", plan["presets"][preset]["batches"])
    components = group.get("components", plan["components"])
    variants = group.get("variants", plan["variants"])
    out = []
    for batch in batches:
        for component in components:
            if component != "unet":
                out.append(Case(component, "-", batch, batch, component))
                continue
            for v in variants:
                out.append(Case("unet", v, batch, 2 * batch if v == "cfg" else batch, "unet" if v in ("plain", "cfg") else f"unet.{v}"))
    return out


def round_order(cases: list, round_index: int) -> list:
    """Round r runs the cases rotated by r."""
    k = round_index % len(cases) if cases else 0
    return cases[k:] + cases[:k]


def median(xs: list[float]) -> float:
    """The upper median (the benches' definition: sorted[n // 2])."""
    return sorted(xs)[len(xs) // 2]


NP_TYPES = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "int32": np.int32}


def make_feeds(inputs: list[dict], case: Case, plan: dict, latent: int, pad_id: int) -> dict:
    """Deterministic inputs for one call, shaped by the graph's declared inputs."""
    rng = np.random.default_rng(case.run_batch * 1009 + latent)
    n, seq, g = case.run_batch, plan["sequenceLength"], plan["guidance"]
    sizes = {"batch_size": n, "height": latent, "width": latent, "latent_height": latent, "latent_width": latent, "sequence_length": seq}
    feeds = {}
    for spec in inputs:
        name, dtype = spec["name"], NP_TYPES[spec["dtype"]]
        shape = [d if isinstance(d, int) else sizes[d] for d in spec["dims"]]
        if name == "input_ids":
            row = [49406] + [320 + (37 * i) % 4000 for i in range(12)] + [49407]
            ids = np.full((n, seq), pad_id, dtype=dtype)
            ids[:, : len(row)] = row
            feeds[name] = ids
        elif name == "timestep":
            feeds[name] = np.array(plan["timestep"], dtype=dtype).reshape(shape)
        elif name in g:
            feeds[name] = np.full(shape, g[name], dtype=dtype)
        else:
            feeds[name] = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    return feeds


def run_group(runner, cases: list[Case], plan: dict, group_deadline: float, hard_deadline: float, log=print, clock=time.perf_counter) -> dict:
    """Warm-up, then interleaved rounds: as many as fit before `group_deadline` (between minRounds and
    rounds), never past `hard_deadline` after the first. `runner.time(case)` returns one call's ms."""
    samples = {c.key: [] for c in cases}
    errors = {}
    estimate = {}

    def fail(c, e):
        text = str(e).splitlines()[0][:300] if str(e) else ""
        errors[c.key] = f"{type(e).__name__}: {text}"
        log(f"  {c.key}: {errors[c.key]}")

    for c in cases:
        try:
            for _ in range(plan["warmupRuns"]):
                estimate[c.key] = runner.time(c)
        except Exception as e:  # noqa: BLE001 - one failing case (e.g. out of memory) must not end the group
            fail(c, e)
    live = [c for c in cases if c.key not in errors]
    round_s = sum(estimate[c.key] for c in live) / 1000
    room = group_deadline - clock()
    fit = int(room // round_s) if round_s > 0 else plan["rounds"]
    wanted = max(plan["minRounds"], min(plan["rounds"], fit))
    log(f"  warm-up done: one round ≈ {round_s:.2f} s, {wanted} rounds planned ({room:.0f} s of this group's share left)")
    done = 0
    for r in range(wanted):
        now = clock()
        if done >= 1 and (now + round_s > hard_deadline or (done >= plan["minRounds"] and now + round_s > group_deadline)):
            log(f"  budget: stopping after {done} rounds")
            break
        for c in round_order(live, r):
            if c.key in errors:
                continue
            try:
                samples[c.key].append(runner.time(c))
            except Exception as e:  # noqa: BLE001
                fail(c, e)
        done += 1
    return {"rounds": done, "samples": samples, "errors": errors, "roundSecondsEstimate": round_s}


def summarize(cases: list[Case], measured: dict) -> dict:
    """Per-case medians, the pipeline's sum per variant and batch, and ratios to plain."""
    rows = []
    by = {}
    for c in cases:
        xs = measured["samples"][c.key]
        row = {"component": c.component, "variant": c.variant, "batch": c.batch, "runBatch": c.run_batch, "graph": c.graph}
        if xs:
            row.update(medianMs=median(xs), minMs=min(xs), samplesMs=[round(x, 4) for x in xs])
            by[(c.component, c.variant, c.batch)] = row["medianMs"]
        else:
            row.update(medianMs=None, minMs=None, samplesMs=[], error=measured["errors"].get(c.key, "not run"))
        rows.append(row)
    pipeline, ratios = [], []
    for batch in sorted({c.batch for c in cases}):
        te, vae = by.get(("text_encoder", "-", batch)), by.get(("vae_decoder", "-", batch))
        plain = by.get(("unet", "plain", batch))

        def total(v: str, unet: float):
            # Guided requests also encode their negative prompts (a second text-encoder call, N rows).
            return None if te is None or vae is None else te * (1 if v == "plain" else 2) + unet + vae

        plain_total = total("plain", plain) if plain is not None else None
        for v in [c.variant for c in cases if c.component == "unet" and c.batch == batch]:
            unet = by.get(("unet", v, batch))
            if unet is None:
                continue
            t = total(v, unet)
            ratios.append({"variant": v, "batch": batch, "unetVsPlain": unet / plain if plain else None,
                           "pipelineVsPlain": t / plain_total if t is not None and plain_total else None})
            if t is not None:
                pipeline.append({"variant": v, "batch": batch, "textEncoderMs": te * (1 if v == "plain" else 2), "unetMs": unet,
                                 "vaeMs": vae, "totalMs": t, "imagesPerSecond": batch * 1000 / t})
    return {"cases": rows, "pipeline": pipeline, "ratios": ratios}


def markdown(result: dict) -> str:
    """The README's tables per measured group: the plain pipeline per batch, then each guidance's cost."""
    lines = []
    fmt = lambda x: "–" if x is None else (f"{x:.2f}" if x < 100 else f"{x:.0f}")  # noqa: E731
    for g in result["groups"]:
        if g.get("status") != "measured":
            lines.append(f"\n{g['runtime']} {g['dtype']}: {g.get('status')} ({g.get('reason', '')})")
            continue
        med = {(c["component"], c["variant"], c["batch"]): c["medianMs"] for c in g["cases"]}
        pipe = {(p["variant"], p["batch"]): p for p in g["pipeline"]}
        batches = sorted({c["batch"] for c in g["cases"]})
        lines.append(f"\n{g['runtime']} {g['dtype']}, {result['imageSide']}x{result['imageSide']}, median of {g['rounds']} interleaved rounds (ms per call)\n")
        lines.append("| batch | text encoder | UNet | VAE | sum | images/s |")
        lines.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for b in batches:
            p = pipe.get(("plain", b))
            lines.append(f"| {b} | {fmt(med.get(('text_encoder', '-', b)))} | {fmt(med.get(('unet', 'plain', b)))} | {fmt(med.get(('vae_decoder', '-', b)))} | "
                         f"{fmt(p['totalMs']) if p else '–'} | {p['imagesPerSecond']:.1f} |" if p else f"| {b} | – | – | – | – | – |")
        lines.append("")
        lines.append("| batch | guidance | UNet ms | UNet × plain | pipeline ms | pipeline × plain | images/s |")
        lines.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for r in g["ratios"]:
            p = pipe.get((r["variant"], r["batch"]))
            ratio = lambda x: "–" if x is None else f"{x:.2f}"  # noqa: E731
            tail = f"{fmt(p['totalMs'])} | {ratio(r['pipelineVsPlain'])} | {p['imagesPerSecond']:.1f}" if p else "– | – | –"
            lines.append(f"| {r['batch']} | {r['variant']} | {fmt(med.get(('unet', r['variant'], r['batch'])))} | {ratio(r['unetVsPlain'])} | {tail} |")
    return "\n".join(lines)
