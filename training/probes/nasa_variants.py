"""Inference-side NASA variants on a trained PG-SB student (training/results/HISTORY.md, "NASA beyond
those eight pairs"): the eight removal pairs × 40 seeds and the survey (112 pairs × 10 seeds), α
swept, one line per setting.

    cd training
    python3 probes/nasa_variants.py ../.cache/training-gpu nasa,proj,diff,projh 1.0,1.5,2.0

WORK holds autoencoder.pt, teacher.pt (its text encoder) and pgsb.pt. Variants, per cross-attention
layer, before the output projection:
  nasa   Z+ − α·Z−                                   (SNOOPI)
  proj   Z+ − α·max(0, ⟨Z+,Z−⟩/‖Z−‖²)·Z− per token    (nets.Attention's nasa_projection, the product's)
  diff   Z+ − α·(Z− − Z∅), Z∅ from the empty prompt   (only what the negative adds)
  projh  proj, each head on its own
Measured (default bundle's student): proj at α 1.5 was best (eight pairs 97.5%, survey 76.0%);
diff and projh did worse than plain NASA.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from snoopi_train.evaluate import removal_rates, survey_pairs  # noqa: E402
from snoopi_train.nets import Attention  # noqa: E402
from snoopi_train.stages.student import load_student  # noqa: E402
from snoopi_train.text_features import CaptionEncoder  # noqa: E402

VARIANT = {"name": "nasa"}
EMPTY: dict = {}
plain_forward = Attention.forward


def probe_forward(self, x, context=None, mask=None, negative_context=None, nasa_alpha=None, nasa_projection=False):
    name = VARIANT["name"]
    if negative_context is None or name in ("nasa", "proj"):
        return plain_forward(self, x, context, mask, negative_context, nasa_alpha, nasa_projection or name == "proj")
    q = self._split(self.to_q(x))
    a = nasa_alpha.view(-1, 1, 1, 1)
    heads = lambda z: z.reshape(z.shape[0], z.shape[1], self.heads, -1).transpose(1, 2)  # noqa: E731
    z, zn = heads(self._attend(q, context)), heads(self._attend(q, negative_context))
    if name == "diff":
        z = z - a * (zn - heads(self._attend(q, EMPTY["context"].expand_as(negative_context))))
    elif name == "projh":
        z = z - a * ((z * zn).sum(-1, keepdim=True) / ((zn * zn).sum(-1, keepdim=True) + 1e-6)).clamp_min(0) * zn
    else:
        raise SystemExit(f"unknown variant {name!r}")
    b, h, n, d = z.shape
    return self.to_out(z.transpose(1, 2).reshape(b, n, h * d))


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    work, variants, alphas = Path(sys.argv[1]), sys.argv[2].split(","), [float(a) for a in sys.argv[3].split(",")]
    torch.set_num_threads(1)
    ae, text, unet = load_student(work)
    encode = CaptionEncoder(text)
    EMPTY["context"] = encode([""])
    Attention.forward = probe_forward
    for name in variants:
        VARIANT["name"] = name
        for alpha in alphas:
            p = removal_rates(unet, ae, encode, list(range(100_000, 100_040)), alpha)
            s = removal_rates(unet, ae, encode, list(range(200_000, 200_010)), alpha, pairs=survey_pairs())
            print(f"{name} α={alpha}: eight pairs {p['success']:.3f} (removed {p['removed']:.3f} kept {p['kept']:.3f} clean {p['clean']:.3f}) | "
                  f"survey {s['success']:.3f} (removed {s['removed']:.3f} kept {s['kept']:.3f} clean {s['clean']:.3f}) "
                  f"pairs ≥ 90%: {sum(x >= 0.9 for x in s['per_pair'])}", flush=True)


if __name__ == "__main__":
    main()
