import copy
import tempfile
import unittest
from pathlib import Path

import torch

from tests.helpers import TINY, tiny_pairs
from snoopi_train import scenes
from snoopi_train.clip_ids import caption_ids
from snoopi_train.diffusion import ALPHAS_CUMPROD, one_step
from snoopi_train.stages.autoencoder import AutoencoderSettings, train_autoencoder
from snoopi_train.stages.paired import FILE_NAME, PairedSettings, make_paired_targets, paired_loss
from snoopi_train.stages.student import StudentSettings, train_student
from snoopi_train.stages.teacher import TeacherSettings, train_teacher
from snoopi_train.text_features import CaptionEncoder


def reference_ddim(unet, z, cond, uncond, steps, kappa):
    """DDIM (η = 0) with CFG written out step by step, independently of diffusion.ddim_sample: the
    trailing spacing 999, 999 − 1000/steps, …; x_{t'} = √ᾱ' x̂0 + √(1 − ᾱ') ε̂."""
    timesteps = [round(999 - i * 999 / steps) for i in range(steps)]
    x = z.clone()
    for i, t in enumerate(timesteps):
        tt = torch.full((z.shape[0],), t)
        e_c, e_u = unet(x, tt, cond), unet(x, tt, uncond)
        eps = e_u + kappa * (e_c - e_u)
        a = ALPHAS_CUMPROD[t].double()
        x0 = (x.double() - (1 - a).sqrt() * eps.double()) / a.sqrt()
        if i + 1 == len(timesteps):
            return x0.float()
        a_next = ALPHAS_CUMPROD[timesteps[i + 1]].double()
        x = (a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps.double()).float()


class PairedTargetsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.work = Path(cls.tmp.name)
        ae = train_autoencoder(TINY, AutoencoderSettings(steps=3, batch=8), cls.work)
        cls.ae = ae
        cls.teacher, cls.text = train_teacher(TINY, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1), ae, cls.work)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_each_target_is_the_teachers_ddim_sample_of_its_caption_and_noise(self):
        with tempfile.TemporaryDirectory() as work:
            s = PairedSettings(count=12, steps=3, kappa=2.5, chunk=5)
            pairs = make_paired_targets(self.teacher, CaptionEncoder(self.text), TINY.latent_channels, Path(work), s)
            self.assertEqual(len(pairs), 12)
            self.assertEqual(pairs.captions, scenes.captions(s.seed, 0, 12)[0], "the recipe's caption stream, with its variants")
            ids = torch.tensor([caption_ids(c) for c in pairs.captions])
            with torch.no_grad():
                cond, uncond = self.text(ids), self.text(torch.tensor([caption_ids("")] * 12))
                expected = reference_ddim(self.teacher.eval(), pairs.z, cond, uncond, s.steps, s.kappa)
            torch.testing.assert_close(pairs.x0, expected, rtol=1e-4, atol=1e-4)
            self.assertGreater((pairs.z[0] - pairs.z[6]).abs().mean().item(), 0.5, "every chunk has its own noise")

    def test_an_interrupted_computation_resumes_and_other_settings_recompute(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            encode = CaptionEncoder(self.text)
            full = make_paired_targets(self.teacher, encode, TINY.latent_channels, work, PairedSettings(count=12, steps=2, chunk=4))
            state = torch.load(work / FILE_NAME)
            torch.save({**state, "captions": state["captions"][:4], "z": state["z"][:1], "x0": state["x0"][:1]}, work / FILE_NAME)  # one chunk done
            resumed = make_paired_targets(self.teacher, encode, TINY.latent_channels, work, PairedSettings(count=12, steps=2, chunk=4))
            self.assertEqual(resumed.captions, full.captions)
            self.assertTrue(torch.equal(resumed.x0, full.x0) and torch.equal(resumed.z, full.z))
            other = make_paired_targets(self.teacher, encode, TINY.latent_channels, work, PairedSettings(count=12, steps=3, chunk=4))
            self.assertTrue(torch.equal(other.z, full.z), "the same noise")
            self.assertFalse(torch.equal(other.x0, full.x0), "another number of DDIM steps: other samples")
            retrained = copy.deepcopy(self.teacher)
            with torch.no_grad():
                next(retrained.parameters()).add_(0.01)
            again = make_paired_targets(retrained, encode, TINY.latent_channels, work, PairedSettings(count=12, steps=3, chunk=4))
            self.assertFalse(torch.equal(again.x0, other.x0), "another teacher's samples are never reused")

    def test_the_loss_has_the_vsd_surrogates_scale(self):
        x0 = torch.randn(3, 4, 8, 8, requires_grad=True)
        target = torch.randn(3, 4, 8, 8)
        paired_loss(x0, target, batch=6).backward()
        torch.testing.assert_close(x0.grad, (x0.detach() - target) / 6)

    def test_a_student_learns_the_pairs_and_so_reads_its_noise(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            pairs = tiny_pairs(self.teacher, self.text, work, count=16)
            cond = self.text(torch.tensor([caption_ids(c) for c in pairs.captions])).detach()
            with torch.no_grad():
                before = paired_loss(one_step(self.teacher, pairs.z, cond), pairs.x0, 16).item()  # the student starts as the teacher
            settings = StudentSettings(steps=150, warmup=150, batch=16, lora_rank=4, clip_weight=0.0, lr=5e-3)
            student = train_student("paired", TINY, settings, self.teacher, self.text, self.ae, work, paired=pairs).unet
            with torch.no_grad():
                after = paired_loss(one_step(student, pairs.z, cond), pairs.x0, 16).item()
                swapped = paired_loss(one_step(student, pairs.z.roll(1, 0), cond), pairs.x0, 16).item()
            self.assertLess(after, 0.5 * before, (before, after))
            self.assertLess(after, 0.8 * swapped, "the output depends on which noise came in")
            self.assertEqual(torch.load(work / "paired.pt")["settings"]["paired_weight"], 1.0)

    def test_a_student_of_the_other_warmup_is_set_aside(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            old = StudentSettings(steps=2, batch=4, lora_rank=4, warmup=1, clip_weight=0.0, paired_weight=0.0)
            train_student("pgsb", TINY, old, self.teacher, self.text, self.ae, work)
            new = StudentSettings(steps=2, batch=4, lora_rank=4, warmup=1, clip_weight=0.0)
            with self.assertRaises(ValueError):
                train_student("pgsb", TINY, new, self.teacher, self.text, self.ae, work)  # no pairs given
            train_student("pgsb", TINY, new, self.teacher, self.text, self.ae, work, paired=tiny_pairs(self.teacher, self.text, work, 8))
            self.assertTrue((work / "pgsb.pt.one-step-warmup-student").exists())
            self.assertEqual(torch.load(work / "pgsb.pt")["settings"]["paired_weight"], 1.0)


if __name__ == "__main__":
    unittest.main()
