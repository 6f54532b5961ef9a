import dataclasses
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tests.helpers import TINY
from snoopi_train import scenes
from snoopi_train.clip_ids import caption_ids, vocabulary
from snoopi_train.diffusion import add_noise
from snoopi_train.detector import to_uint8
from snoopi_train.grounding import Grounding, colour_masks, grounding_term, object_token_positions, scene_masks, to_cells
from snoopi_train.nets import TextEncoder, UNet
from snoopi_train.stages.autoencoder import AutoencoderSettings, train_autoencoder
from snoopi_train.stages.student import StudentSettings, train_student
from snoopi_train.stages.teacher import TeacherSettings, set_aside_other_teacher, train_teacher


def token(word):
    return vocabulary()[word + "</w>"]


class TokenPositionsTest(unittest.TestCase):
    def check(self, caption, objects):
        ids = caption_ids(caption)
        positions = object_token_positions(caption, objects)
        self.assertEqual(len(positions), len(objects))
        for (colour, kind), (c, k) in zip(objects, positions):
            self.assertEqual((ids[c], ids[k]), (token(colour), token(kind)))
        return positions

    def test_every_caption_variant_of_training(self):
        objects = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
        self.assertEqual(self.check("a red circle, a blue square and a green triangle on a white background", objects), [(2, 3), (6, 7), (10, 11)])
        self.check("red circle, blue square and green triangle", objects)
        self.check("a red circle", objects[:1])

    def test_a_colour_named_twice_is_found_in_order(self):
        self.assertEqual(self.check("a red circle and a red square", [("red", "circle"), ("red", "square")]), [(2, 3), (6, 7)])

    def test_an_object_the_caption_does_not_name_is_an_error(self):
        with self.assertRaises(ValueError):
            object_token_positions("a red circle", [("blue", "square")])

    def test_positions_of_sampled_training_captions(self):
        captions, batch_scenes = scenes.captions(5, 0, 64)
        for caption, scene in zip(captions, batch_scenes):
            self.check(caption, scene.objects)


class ObjectCellsTest(unittest.TestCase):
    def test_cells_are_where_the_shape_is(self):
        scene = scenes.Scene((scenes.Shape("red", "square", 6.0, 6.0, 5.0), scenes.Shape("blue", "circle", 25.0, 24.0, 5.0)), "")
        cells = to_cells(scene_masks(scene), 4)
        self.assertEqual(cells.shape, (2, 16))
        first, second = cells[0].reshape(4, 4), cells[1].reshape(4, 4)
        self.assertEqual(first[0, 0], 1.0)
        self.assertEqual(first[2:, :].sum() + first[:, 2:].sum(), 0.0)  # nothing in the far half
        self.assertEqual(second[3, 3], 1.0)
        self.assertEqual(second[:2, :].sum(), 0.0)
        self.assertEqual(set(np.unique(cells)), {0.0, 1.0})
        self.assertEqual(to_cells(scene_masks(scene), 8).shape, (2, 64))


    def test_colour_masks_of_a_rendered_scene_match_its_shapes(self):
        scene = next(sc for sc in (scenes.sample_scene(3, i) for i in range(100)) if len({c for c, _ in sc.objects}) == len(sc.objects) >= 2)
        image = to_uint8(scenes.render(scene).transpose(2, 0, 1)[None] * 2 - 1)[0]
        found, truth = colour_masks(image, scene.objects), scene_masks(scene) > 0.5
        self.assertEqual(found.shape, truth.shape)
        for k in range(len(truth)):
            self.assertGreater((found[k].astype(bool) & truth[k]).sum() / truth[k].sum(), 0.95)
        self.assertIsNone(colour_masks(image, [("red", "circle"), ("red", "square")]))


class GroundingLossTest(unittest.TestCase):
    def maps(self, weight_on_cells):
        """One object on cells 0 and 1 of 4, tokens 2 and 3; `weight_on_cells[q]` = attention on its words at query q."""
        probs = torch.full((1, 1, 4, 8), 0.0)
        for q, w in enumerate(weight_on_cells):
            probs[0, 0, q, 2] = probs[0, 0, q, 3] = w / 2
            probs[0, 0, q, 0] = 1 - w
        return probs

    def test_grounded_maps_cost_less_than_flat_ones_and_flat_less_than_misplaced(self):
        tokens, cells = torch.tensor([[2, 3]]), torch.tensor([[1.0, 1.0, 0.0, 0.0]])
        grounded = grounding_term(self.maps([0.9, 0.9, 0.05, 0.05]), tokens, cells)
        flat = grounding_term(self.maps([0.3, 0.3, 0.3, 0.3]), tokens, cells)
        misplaced = grounding_term(self.maps([0.05, 0.05, 0.9, 0.9]), tokens, cells)
        self.assertLess(grounded.item(), flat.item())
        self.assertLess(flat.item(), misplaced.item())
        # The token term of the flat map: half the mass inside → (1 − 0.5)²; the pixel term is the BCE.
        expected = 0.25 + F.binary_cross_entropy(torch.full((4,), 0.3), cells[0]).item()
        self.assertAlmostEqual(flat.item(), expected, places=5)

    def test_training_on_it_grounds_a_small_unet_and_close_stops_recording(self):
        torch.manual_seed(0)
        unet, text = UNet(TINY), TextEncoder(TINY)
        images, captions, batch_scenes = scenes.batch(6, 0, 16)
        captions[0] = ""  # a dropped caption has nothing to ground
        context = text(torch.tensor([caption_ids(c) for c in captions])).detach()
        x0 = F.avg_pool2d(torch.from_numpy(images), 4)[:, :3].repeat(1, 2, 1, 1)[:, :4]
        noise, t = torch.randn_like(x0), torch.randint(0, 500, (16,))
        grounding = Grounding(unet)
        self.assertEqual(len(grounding.layers), 3)
        opt = torch.optim.Adam(unet.parameters(), lr=3e-3)
        losses = []
        for _ in range(40):
            unet(add_noise(x0, noise, t), t, context)
            loss = grounding.loss(captions, [sc.objects for sc in batch_scenes], [scene_masks(sc) for sc in batch_scenes])
            opt.zero_grad(), loss.backward(), opt.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.7 * losses[0])
        grounding.close()
        unet(add_noise(x0, noise, t), t, context)
        self.assertTrue(all(layer.probs is None and not layer.keep_probs for layer in grounding.layers))


    def test_the_phrase_pass_grounds_an_object_phrase_alone(self):
        torch.manual_seed(1)
        unet, text = UNet(TINY), TextEncoder(TINY)
        images, captions, batch_scenes = scenes.batch(7, 0, 16)
        encode = lambda texts: text(torch.tensor([caption_ids(c) for c in texts])).detach()  # noqa: E731
        x0 = F.avg_pool2d(torch.from_numpy(images), 4)[:, :3].repeat(1, 2, 1, 1)[:, :4]
        noisy, t = add_noise(x0, torch.randn_like(x0), torch.randint(0, 500, (16,))), torch.randint(0, 500, (16,))
        grounding = Grounding(unet)
        objects, masks = [sc.objects for sc in batch_scenes], [scene_masks(sc) for sc in batch_scenes]
        seen = []
        unet_forward = unet.forward
        unet.forward = lambda sample, timestep, context: (seen.append(len(sample)), unet_forward(sample, timestep, context))[1]
        opt = torch.optim.Adam(unet.parameters(), lr=3e-3)
        losses = []
        for _ in range(40):
            loss = grounding.phrase_loss(unet, noisy, t, captions, objects, masks, encode)
            opt.zero_grad(), loss.backward(), opt.step()
            losses.append(loss.item())
        self.assertEqual(seen[0], sum(len(s.shapes) >= 2 for s in batch_scenes))  # scenes of one shape have nothing to keep
        self.assertLess(losses[-1], 0.7 * losses[0])
        singles = [named[:1] for named in objects]
        self.assertEqual(grounding.phrase_loss(unet, noisy, t, captions, singles, masks, encode).item(), 0.0)
        unknown = [None] * len(masks)  # rows whose objects could not be told apart
        self.assertEqual(grounding.phrase_loss(unet, noisy, t, captions, objects, unknown, encode).item(), 0.0)


class GroundedStagesTest(unittest.TestCase):
    def test_a_grounded_teacher_and_a_student_grounded_on_its_own_output_train_and_record_nothing_after(self):
        cfg = dataclasses.replace(TINY, zero_padding=True)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            ae = train_autoencoder(cfg, AutoencoderSettings(steps=3, batch=8), work)
            teacher, text = train_teacher(cfg, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1, grounding=0.5), ae, work)
            self.assertEqual(torch.load(work / "teacher.pt")["recipe"], "grounded")
            settings = StudentSettings(steps=5, batch=8, eval_every=5, lora_rank=4, warmup=2, clip_weight=0.0, ema=0.0, grounding=1.0, paired_weight=0.0)
            result = train_student("pgsb", cfg, settings, teacher, text, ae, work)
            self.assertEqual(result.steps, 5)
            for model in (teacher, result.unet):
                self.assertTrue(all(not m.keep_probs and m.probs is None for m in model.modules() if hasattr(m, "keep_probs")))


class PaddingTest(unittest.TestCase):
    def test_the_grounded_text_encoder_zeroes_everything_after_the_first_end_of_text(self):
        torch.manual_seed(0)
        text = TextEncoder(dataclasses.replace(TINY, zero_padding=True))
        ids = torch.tensor([caption_ids("a red circle"), caption_ids("a blue square and a green triangle")])
        hidden = text(ids)
        for row, words in enumerate((3, 7)):
            end = words + 1  # start token, words, then the first end-of-text
            self.assertTrue(torch.all(hidden[row, : end + 1].abs().sum(dim=-1) > 0))
            self.assertEqual(hidden[row, end + 1 :].abs().sum().item(), 0.0)
        plain = TextEncoder(TINY)
        plain.load_state_dict(text.state_dict())
        self.assertTrue(torch.all(plain(ids).abs().sum(dim=-1) > 0))  # the plain recipe keeps the padding's features
        torch.testing.assert_close(plain(ids)[0, :5], hidden[0, :5])


class OtherTeacherTest(unittest.TestCase):
    def test_a_plain_teacher_and_its_students_are_moved_aside_for_a_grounded_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            torch.save({"unet": {}}, work / "teacher.pt")  # saved before the grounded recipe: no "recipe"
            for name in ("autoencoder.pt", "scene_clip.pt", "pgsb.pt", "evaluation.json"):
                (work / name).write_text("x")
            set_aside_other_teacher(work, "grounded")
            aside = work / "teacher-plain"
            self.assertEqual(sorted(p.name for p in aside.iterdir()), ["evaluation.json", "pgsb.pt", "scene_clip.pt", "teacher.pt"])
            self.assertEqual(sorted(p.name for p in work.iterdir() if p.is_file()), ["autoencoder.pt"])
            torch.save({"step": 10, "recipe": "grounded"}, work / "teacher.ckpt")  # and back: a second folder, nothing lost
            set_aside_other_teacher(work, "plain")
            self.assertEqual(sorted(p.name for p in (work / "teacher-grounded").iterdir()), ["teacher.ckpt"])
            self.assertTrue((aside / "teacher.pt").exists())

    def test_a_teacher_of_the_same_recipe_stays(self):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            torch.save({"step": 10, "recipe": "grounded"}, work / "teacher.ckpt")
            (work / "pgsb.pt").write_text("x")
            set_aside_other_teacher(work, "grounded")
            self.assertEqual(sorted(p.name for p in work.iterdir()), ["pgsb.pt", "teacher.ckpt"])
            torch.save({"unet": {}}, work / "teacher.pt")
            (work / "teacher.ckpt").unlink()
            set_aside_other_teacher(work, "plain")
            self.assertEqual(sorted(p.name for p in work.iterdir()), ["pgsb.pt", "teacher.pt"])


if __name__ == "__main__":
    unittest.main()
