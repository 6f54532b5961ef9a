import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from snoopi_train.nets import ModelConfig  # noqa: E402

torch.set_num_threads(1)

# A small configuration so the tests run in seconds.
TINY = ModelConfig(ae_channels=(8, 16, 16), text_width=32, text_token_width=8, text_layers=1, text_heads=2,
                   unet_channels=(16, 32), head_dim=16, norm_groups=8, ff_mult=2)


def tiny_pairs(teacher, text, work, count: int = 16):
    """A few paired regression targets of a tiny teacher (stages/paired.py), for student tests."""
    from snoopi_train.stages.paired import PairedSettings, make_paired_targets
    from snoopi_train.text_features import CaptionEncoder

    return make_paired_targets(teacher, CaptionEncoder(text), TINY.latent_channels, work, PairedSettings(count=count, steps=2, chunk=8))
