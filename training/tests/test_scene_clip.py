import tempfile
import unittest
from pathlib import Path

import torch

from tests.helpers import TINY
from snoopi_train import scenes
from snoopi_train.nets import AutoEncoder, TextEncoder, UNet
from snoopi_train.scene_clip import CaptionPooler, ClipSettings, SceneCLIP, clip_loss, same_scene_targets, train_scene_clip
from snoopi_train.stages.distillation import clip_margin_loss
from snoopi_train.stages.student import StudentSettings, train_student


class SceneClipTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.text = TextEncoder(TINY).requires_grad_(False)

    def test_targets_make_every_same_object_scene_a_positive(self):
        images, captions, scene_list = scenes.batch(1, 0, 64)
        targets = same_scene_targets(scene_list)
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(64))
        for i, a in enumerate(scene_list):
            for j, b in enumerate(scene_list):
                self.assertEqual(bool(targets[i, j] > 0), sorted(a.objects) == sorted(b.objects))

    def test_contrastive_loss_decreases(self):
        model = SceneCLIP(TINY.text_width)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        images, captions, scene_list = scenes.batch(2, 0, 32)
        x, pooled, targets = torch.from_numpy(images), CaptionPooler(self.text)(captions), same_scene_targets(scene_list)
        losses = []
        for _ in range(30):
            loss = clip_loss(model, x, pooled, targets)
            opt.zero_grad(), loss.backward(), opt.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.5 * losses[0])

    def test_pooler_takes_the_first_end_of_text_feature(self):
        features = self.text(torch.tensor([[49406, 320, 736, 49407, 49407] + [49407] * 72]))
        torch.testing.assert_close(CaptionPooler(self.text)(["a red"])[0], features[0, 3])

    def test_stage_sets_the_margin_from_real_images_and_reloads(self):
        with tempfile.TemporaryDirectory() as work:
            model = train_scene_clip(ClipSettings(steps=3, batch=8), self.text, Path(work))
            saved = torch.load(Path(work) / "scene_clip.pt")
            self.assertAlmostEqual(float(model.margin), saved["matched_cosine"], places=5)
            self.assertTrue(-1 <= saved["unmatched_cosine"] <= 1 and 0 <= saved["retrieval"] <= 1)
            again = train_scene_clip(ClipSettings(steps=3, batch=8), self.text, Path(work))
            torch.testing.assert_close(again.margin, model.margin)

    def test_margin_loss_is_zero_above_the_margin_and_pulls_latents_below_it(self):
        model, ae = SceneCLIP(TINY.text_width).eval(), AutoEncoder(TINY)
        pooled = CaptionPooler(self.text)(["a red circle", "a blue square"])
        x0 = torch.randn(2, 4, 8, 8, requires_grad=True)
        model.margin.fill_(-1.0)
        self.assertEqual(clip_margin_loss(model, ae, x0, pooled).item(), 0.0)
        model.margin.fill_(1.0)
        loss = clip_margin_loss(model, ae, x0, pooled)
        loss.backward()
        self.assertGreater(loss.item(), 0)
        self.assertGreater(x0.grad.abs().sum().item(), 0)
        with torch.no_grad():  # a small step against the gradient lowers the loss
            self.assertLess(clip_margin_loss(model, ae, x0 - 1e-2 * x0.grad / x0.grad.norm(), pooled).item(), loss.item())

    def test_student_with_clip_weight_needs_the_model_and_trains_with_it(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            ae, teacher = AutoEncoder(TINY), UNet(TINY)
            settings = StudentSettings(steps=2, batch=4, lora_rank=4, clip_weight=5.0, warmup=0, paired_weight=0.0)
            with self.assertRaises(ValueError):
                train_student("s", TINY, settings, teacher, self.text, ae, work)
            result = train_student("s", TINY, settings, teacher, self.text, ae, work, scene_clip=SceneCLIP(TINY.text_width).eval())
            self.assertEqual(result.steps, 2)


if __name__ == "__main__":
    unittest.main()
