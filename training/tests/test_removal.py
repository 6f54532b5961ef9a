import tempfile
import unittest
from pathlib import Path

import torch

from tests.helpers import TINY, tiny_pairs
from tests.test_paired import reference_ddim
from snoopi_train import scenes
from snoopi_train.clip_ids import caption_ids
from snoopi_train.diffusion import one_step
from snoopi_train.evaluate import REMOVAL_PAIRS, survey_pairs
from snoopi_train.stages.autoencoder import AutoencoderSettings, train_autoencoder
from snoopi_train.stages.paired import PairedSettings, pair_noise, paired_loss
from snoopi_train.stages.removal import RemovalSettings, make_removal_targets, removal_prompts, removal_scenes, removal_training_combo
from snoopi_train.stages.student import StudentSettings, train_student
from snoopi_train.stages.teacher import TeacherSettings, train_teacher
from snoopi_train.text_features import CaptionEncoder


class RemovalPairsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.work = Path(cls.tmp.name)
        cls.ae = train_autoencoder(TINY, AutoencoderSettings(steps=3, batch=8), cls.work)
        cls.teacher, cls.text = train_teacher(TINY, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1), cls.ae, cls.work)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_no_evaluated_pair_is_ever_a_prompt(self):
        chosen = removal_scenes(RemovalSettings(count=800))
        self.assertEqual(len(chosen), 800)
        tuning = {frozenset(objects) for objects, _ in REMOVAL_PAIRS}
        untouched = {frozenset(objects) for objects, _ in survey_pairs(untuned=True) if not removal_training_combo(objects)}
        self.assertGreaterEqual(len(untouched), 20, "the survey keeps a sizeable untouched half")
        counts = {2: 0, 3: 0}
        for prompt, objects, remove in chosen:
            combo = frozenset(objects)
            self.assertNotIn(combo, tuning, prompt)
            self.assertNotIn(combo, untouched, prompt)
            self.assertFalse(scenes.is_held_out(objects), prompt)
            self.assertIn(remove, objects)
            for colour, kind in objects:
                self.assertIn(f"{colour} {kind}", prompt)
            counts[len(objects)] += 1
        self.assertGreater(min(counts.values()), 200, counts)
        prompts, negatives, kept = removal_prompts(RemovalSettings(count=800))
        self.assertEqual(removal_prompts(RemovalSettings(count=800)), (prompts, negatives, kept), "a pure function of the settings")
        first_prompt, objects, remove = chosen[0]
        self.assertEqual(negatives[0], scenes.object_phrase(remove, article=False))
        self.assertEqual(kept[0], scenes.caption_for([o for o in objects if o != remove]))
        self.assertNotIn(negatives[0], kept[0])

    def test_each_target_is_the_teachers_sample_of_the_kept_objects_from_its_noise(self):
        with tempfile.TemporaryDirectory() as work:
            s = RemovalSettings(count=6, steps=3, chunk=4)
            targets = make_removal_targets(self.teacher, CaptionEncoder(self.text), TINY.latent_channels, Path(work), s)
            self.assertEqual(targets.kept, removal_prompts(s)[2])
            with torch.no_grad():
                cond = self.text(torch.tensor([caption_ids(c) for c in targets.kept]))
                uncond = self.text(torch.tensor([caption_ids("")] * 6))
                expected = reference_ddim(self.teacher.eval(), targets.z, cond, uncond, s.steps, s.kappa)
            torch.testing.assert_close(targets.x0, expected, rtol=1e-4, atol=1e-4)
            paired_noise = pair_noise(PairedSettings(), 0, 6, TINY.latent_channels)
            self.assertGreater((targets.z - paired_noise).abs().mean().item(), 0.5, "not the paired targets' noise")

    def test_a_student_with_removal_pairs_learns_what_the_nasa_edit_should_give(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            encode = CaptionEncoder(self.text)
            pairs = tiny_pairs(self.teacher, self.text, work, count=16)
            targets = make_removal_targets(self.teacher, encode, TINY.latent_channels, work, RemovalSettings(count=16, steps=2, chunk=8))

            def removal_error(unet) -> float:
                alpha = torch.full((16,), 1.25)
                with torch.no_grad():
                    x0 = one_step(unet, targets.z, encode(targets.prompts), negative_context=encode(targets.negatives), nasa_alpha=alpha,
                                  nasa_projection=True)
                return paired_loss(x0, targets.x0, 16).item()

            trained = {}
            for weight in (0.0, 1.0):
                settings = StudentSettings(steps=200, warmup=10, batch=8, lora_rank=4, clip_weight=0.0, lr=5e-3, removal_weight=weight,
                                           removal_batch=8)
                folder = work / f"weight-{weight}"
                folder.mkdir()
                trained[weight] = train_student("pgsb", TINY, settings, self.teacher, self.text, self.ae, folder, paired=pairs,
                                                removal=targets).unet
            with_pairs, without = removal_error(trained[1.0]), removal_error(trained[0.0])
            self.assertLess(with_pairs, 0.3 * without, (with_pairs, without))

    def test_a_student_trained_without_removal_pairs_or_at_another_weight_is_set_aside(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            pairs = tiny_pairs(self.teacher, self.text, work, count=8)
            targets = make_removal_targets(self.teacher, CaptionEncoder(self.text), TINY.latent_channels, work, RemovalSettings(count=8, steps=2))
            plain = StudentSettings(steps=2, batch=4, lora_rank=4, warmup=1, clip_weight=0.0)
            train_student("pgsb", TINY, plain, self.teacher, self.text, self.ae, work, paired=pairs)
            removal = StudentSettings(steps=2, batch=4, lora_rank=4, warmup=1, clip_weight=0.0, removal_weight=1.0, removal_batch=2)
            with self.assertRaises(ValueError):
                train_student("pgsb", TINY, removal, self.teacher, self.text, self.ae, work, paired=pairs)  # no removal pairs given
            train_student("pgsb", TINY, removal, self.teacher, self.text, self.ae, work, paired=pairs, removal=targets)
            self.assertTrue((work / "pgsb.pt.no-removal-student").exists())
            self.assertEqual(torch.load(work / "pgsb.pt")["settings"]["removal_weight"], 1.0)
            heavier = StudentSettings(steps=2, batch=4, lora_rank=4, warmup=1, clip_weight=0.0, removal_weight=2.0, removal_batch=2)
            train_student("pgsb", TINY, heavier, self.teacher, self.text, self.ae, work, paired=pairs, removal=targets)
            self.assertTrue((work / "pgsb.pt.removal1-student").exists(), "a student of another removal weight was extended")
            self.assertEqual(torch.load(work / "pgsb.pt")["settings"]["removal_weight"], 2.0)


if __name__ == "__main__":
    unittest.main()
