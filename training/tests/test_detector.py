import unittest
from collections import Counter

import numpy as np

from snoopi_train import detector, scenes
from snoopi_train.detector import OTHER
from snoopi_train.truth import HYBRIDS, OFF_PALETTE, TruthObject, coverage, expected, truth_scene


def rendered(scene):
    return (scenes.render(scene) * 255).round().astype(np.uint8)


def drawn(*objects):
    image = np.full((32, 32, 3), 255.0)
    for obj in objects:
        alpha = coverage(obj)[..., None]
        image = image * (1 - alpha) + np.array(obj.rgb, dtype=np.float32) * alpha
    return np.round(image).astype(np.uint8)


class DetectorTest(unittest.TestCase):
    def test_finds_exactly_the_shapes_of_rendered_training_scenes(self):
        hits = sum(detector.adheres(rendered(s), s.objects) for s in (scenes.sample_scene(21, i) for i in range(300)))
        self.assertGreaterEqual(hits / 300, 0.99)

    def test_at_least_99_percent_exact_on_ground_truth_with_soft_edges_jitter_and_extra_objects(self):
        # truth.py: blurred edges (σ up to 0.8 px), anti-aliasing, colour jitter ±12, background noise; half
        # the scenes carry off-palette or misshapen extra objects, which must be counted as OTHER.
        n, hits, centre_errors, extras = 300, 0, [], 0
        for i in range(n):
            image, objects = truth_scene(31, i)
            found = detector.objects(image)
            hits += Counter(f.kind for f in found) == expected(objects)
            extras += any(OTHER in o.kind for o in objects)
            for o in (o for o in objects if o.shape != OTHER):  # a misshapen object has no true centre to compare
                nearest = min(found, key=lambda f: (f.cx - o.cx) ** 2 + (f.cy - o.cy) ** 2)
                centre_errors.append(np.hypot(nearest.cx - o.cx, nearest.cy - o.cy))
        self.assertGreater(extras, 100, "the set has extra objects to count")
        self.assertGreaterEqual(hits / n, 0.99)
        self.assertLess(np.percentile(centre_errors, 99), 1.0, "centres within a pixel")

    def test_a_blank_image_has_no_objects(self):
        self.assertEqual(detector.detect(np.full((32, 32, 3), 255, np.uint8)), Counter())

    def test_each_shape_kind_alone_sharp_and_soft(self):
        for kind in scenes.SHAPES:
            for colour, rgb in scenes.COLOURS.items():
                for softness in (0.0, 0.8):
                    image = drawn(TruthObject(colour, kind, kind, rgb, 15.3, 16.7, 6.0, softness))
                    self.assertEqual(detector.detect(image), Counter({(colour, kind): 1}), (colour, kind, softness))

    def test_specks_are_ignored_but_any_other_ink_is_an_extra_object(self):
        image = np.full((32, 32, 3), 255, np.uint8)
        image[2:4, 2:4] = scenes.COLOURS["red"]  # 4 pixels: a speck
        self.assertEqual(detector.detect(image), Counter())
        image[20:30, 20:30] = (128, 128, 128)  # a grey square: no palette colour
        self.assertEqual(detector.detect(image), Counter({(OTHER, "square"): 1}))

    def test_off_palette_colours_far_from_the_palette_count_as_other(self):
        for name, rgb in OFF_PALETTE.items():  # brown, olive, orange, teal, … (≥ 70 from every palette colour)
            found = detector.objects(drawn(TruthObject(OTHER, "circle", "circle", rgb, 16, 16, 5.5, 0.4)))
            self.assertEqual([f.colour for f in found], [OTHER], name)

    def test_misshapen_palette_objects_are_other(self):
        for form in HYBRIDS:
            for colour, rgb in scenes.COLOURS.items():
                found = detector.objects(drawn(TruthObject(colour, OTHER, form, rgb, 16, 16, 5.5, 0.3)))
                self.assertEqual([f.kind for f in found], [(colour, OTHER)], (form, colour))

    def test_two_touching_shapes_of_different_colours_are_two_objects(self):
        red = TruthObject("red", "square", "square", scenes.COLOURS["red"], 11, 16, 5.0, 0.0)
        blue = TruthObject("blue", "circle", "circle", scenes.COLOURS["blue"], 20.5, 16, 5.0, 0.0)
        self.assertEqual(detector.detect(drawn(red, blue)), Counter({("red", "square"): 1, ("blue", "circle"): 1}))

    def test_extra_objects_break_adherence_and_removal_reports_all_four_parts(self):
        shapes = (scenes.Shape("red", "circle", 8, 8, 5.5), scenes.Shape("blue", "square", 24, 24, 5.5))
        image = rendered(scenes.Scene(shapes, ""))
        self.assertTrue(detector.adheres(image, [("red", "circle"), ("blue", "square")]))
        self.assertFalse(detector.adheres(image, [("red", "circle")]))
        keep, remove = [("red", "circle")], ("blue", "square")
        self.assertEqual(detector.removal(image, keep, remove), (False, True, False, False))
        only_red = rendered(scenes.Scene(shapes[:1], ""))
        self.assertEqual(detector.removal(only_red, keep, remove), (True, True, True, True))
        # Removed, kept, but another object took the removed one's place: not clean. A copy of the kept one is
        # clean (only kept kinds) but not exactly the kept objects.
        replaced = rendered(scenes.Scene((shapes[0], scenes.Shape("green", "square", 24, 24, 5.5)), ""))
        self.assertEqual(detector.removal(replaced, keep, remove), (True, True, False, False))
        copied = rendered(scenes.Scene((shapes[0], scenes.Shape("red", "circle", 24, 24, 5.5)), ""))
        self.assertEqual(detector.removal(copied, keep, remove), (True, True, True, False))
        brown = drawn(TruthObject("red", "circle", "circle", scenes.COLOURS["red"], 8, 8, 5.5, 0.0),
                      TruthObject(OTHER, "square", "square", OFF_PALETTE["brown"], 24, 24, 5.5, 0.0))
        self.assertEqual(detector.removal(brown, keep, remove), (True, True, False, False), "a brown square is an extra object")

    def test_layout_gives_positions(self):
        image = rendered(scenes.Scene((scenes.Shape("red", "circle", 8.5, 9.0, 5.5), scenes.Shape("blue", "square", 23.0, 22.5, 5.0)), ""))
        found = {f.kind: (f.cx, f.cy) for f in detector.layout(image)}
        np.testing.assert_allclose(found[("red", "circle")], (8.5, 9.0), atol=0.3)
        np.testing.assert_allclose(found[("blue", "square")], (23.0, 22.5), atol=0.3)

    def test_to_uint8_rounds_like_the_serving_pipeline(self):
        values = np.array([-1.0, 0.0, 1.0, 2.0], np.float32).reshape(1, 1, 2, 2).repeat(3, axis=1)
        self.assertEqual(detector.to_uint8(values)[0, :, :, 0].ravel().tolist(), [0, 128, 255, 255])


if __name__ == "__main__":
    unittest.main()
