import base64
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from tests.helpers import TINY
from snoopi_train.clip_ids import caption_ids
from snoopi_train.evaluate import REMOVAL_PAIRS, one_step_images, removal_rates
from snoopi_train.export import REFERENCE_CASES, export_bundle, reference_images
from snoopi_train.nets import Attention, AutoEncoder, TextEncoder, UNet
from snoopi_train.text_features import CaptionEncoder


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(3)
        cls.text, cls.unet, cls.ae = TextEncoder(TINY), UNet(TINY), AutoEncoder(TINY)
        cls.ae.scaling_factor.fill_(2.5)

    def test_writes_the_optimum_layout_with_snoopi_json(self):
        with tempfile.TemporaryDirectory() as out:
            out = Path(out)
            export_bundle(out, TINY, self.text, self.unet, self.ae, nasa_alpha=0.75, version="test")
            for path in ("model_index.json", "scheduler/scheduler_config.json", "text_encoder/model.onnx", "unet/model.onnx",
                         "vae_decoder/model.onnx", "unet/config.json", "vae_decoder/config.json", "snoopi.json"):
                self.assertTrue((out / path).exists(), path)
            snoopi = json.loads((out / "snoopi.json").read_text())
            self.assertEqual((snoopi["nasa_alpha"], snoopi["sizes"], snoopi["one_step_timestep"]), (0.75, ["32x32"], 999))
            vae = json.loads((out / "vae_decoder/config.json").read_text())
            self.assertEqual(vae["scaling_factor"], 2.5)
            self.assertEqual(2 ** (len(vae["block_out_channels"]) - 1), 4)  # 32×32 images, 8×8 latents
            self.assertEqual(json.loads((out / "scheduler/scheduler_config.json").read_text())["prediction_type"], "sample")

    def test_reference_images_are_deterministic_and_nasa_changes_its_case(self):
        a = reference_images(self.text, self.unet, self.ae, alpha=1.0)
        b = reference_images(self.text, self.unet, self.ae, alpha=1.0)
        self.assertEqual(a, b)
        self.assertEqual(len(a), len(REFERENCE_CASES))
        pixels = [np.frombuffer(base64.b64decode(c["rgb_base64"]), np.uint8) for c in a]
        self.assertTrue(all(p.size == 32 * 32 * 3 for p in pixels))
        plain = next(i for i, c in enumerate(a) if c["seed"] == "7" and "negative_prompt" not in c)
        nasa = next(i for i, c in enumerate(a) if "negative_prompt" in c)
        self.assertFalse(np.array_equal(pixels[plain], pixels[nasa]))


class NasaInPyTorchTest(unittest.TestCase):
    def test_alpha_zero_is_the_plain_model_and_alpha_changes_the_output(self):
        torch.manual_seed(5)
        unet, text = UNet(TINY), TextEncoder(TINY)
        z = torch.randn(2, 4, 8, 8)
        t = torch.full((2,), 999)
        with torch.no_grad():
            cond = text(torch.tensor([caption_ids("a red circle and a blue square")] * 2))
            neg = text(torch.tensor([caption_ids("blue square")] * 2))
            plain = unet(z, t, cond)
            torch.testing.assert_close(unet(z, t, cond, negative_context=neg, nasa_alpha=torch.zeros(2)), plain)
            steered = unet(z, t, cond, negative_context=neg, nasa_alpha=torch.tensor([0.0, 1.0]))
            torch.testing.assert_close(steered[0], plain[0])
            self.assertGreater((steered[1] - plain[1]).abs().max().item(), 1e-3)

    def test_projection_removes_from_each_token_only_its_part_along_the_negative(self):
        torch.manual_seed(7)
        attention = Attention(16, 8, heads=2)
        x, context, negative = torch.randn(2, 5, 16), torch.randn(2, 6, 8), torch.randn(2, 6, 8)
        alpha = torch.tensor([0.0, 1.5])
        with torch.no_grad():
            out = attention(x, context, negative_context=negative, nasa_alpha=alpha, nasa_projection=True)
            # Independently: Z+ and Z− from the plain attention (its output projection undone), per token.
            w, b = attention.to_out.weight, attention.to_out.bias
            undo = lambda y: torch.linalg.solve(w, (y - b).unsqueeze(-1)).squeeze(-1)  # noqa: E731
            z_pos, z_neg = undo(attention(x, context)), undo(attention(x, negative))
            expected = z_pos.clone()
            for row in range(2):
                for token in range(5):
                    p, n = z_pos[row, token], z_neg[row, token]
                    expected[row, token] = p - alpha[row] * max(0.0, float(p @ n) / (float(n @ n) + 1e-6)) * n
            torch.testing.assert_close(undo(out), expected, rtol=1e-4, atol=1e-4)
            plain_nasa = attention(x, context, negative_context=negative, nasa_alpha=alpha)
            self.assertGreater((out[1] - plain_nasa[1]).abs().max().item(), 1e-3)
            torch.testing.assert_close(out[0], attention(x, context)[0])

    def test_removal_rates_report_every_pair(self):
        torch.manual_seed(6)
        unet, text, ae = UNet(TINY), TextEncoder(TINY), AutoEncoder(TINY)
        encode = CaptionEncoder(text)
        images = one_step_images(unet, ae, encode, ["a red circle"] * 3, [1, 2, 3])
        self.assertEqual((images.shape, images.dtype), ((3, 32, 32, 3), np.uint8))
        rates = removal_rates(unet, ae, encode, [1, 2], alpha=0.5)
        self.assertEqual(len(rates["per_pair"]), len(REMOVAL_PAIRS))
        for key in ("removed", "kept", "success"):
            self.assertTrue(0.0 <= rates[key] <= 1.0)
        self.assertLessEqual(rates["success"], min(rates["removed"], rates["kept"]))


if __name__ == "__main__":
    unittest.main()
