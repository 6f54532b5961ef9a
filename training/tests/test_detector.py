import unittest
from collections import Counter

import numpy as np

from snoopi_train import detector, scenes


def rendered(scene):
    return (scenes.render(scene) * 255).round().astype(np.uint8)


class DetectorTest(unittest.TestCase):
    def test_finds_exactly_the_shapes_of_rendered_scenes(self):
        hits = sum(detector.adheres(rendered(s), s.objects) for s in (scenes.sample_scene(21, i) for i in range(400)))
        self.assertGreaterEqual(hits / 400, 0.98)

    def test_a_blank_image_has_no_objects(self):
        self.assertEqual(detector.detect(np.full((32, 32, 3), 255, np.uint8)), Counter())

    def test_each_shape_kind_alone(self):
        for kind in scenes.SHAPES:
            for colour in scenes.COLOURS:
                scene = scenes.Scene((scenes.Shape(colour, kind, 15.3, 16.7, 6.0),), "")
                self.assertEqual(detector.detect(rendered(scene)), Counter({(colour, kind): 1}), (colour, kind))

    def test_specks_and_off_palette_colours_are_ignored(self):
        image = np.full((32, 32, 3), 255, np.uint8)
        image[2:4, 2:4] = scenes.COLOURS["red"]  # 4 pixels: a speck
        image[20:30, 20:30] = (128, 128, 128)  # grey: no palette colour
        self.assertEqual(detector.detect(image), Counter())

    def test_extra_objects_break_adherence_and_removal_reports_both_parts(self):
        shapes = (scenes.Shape("red", "circle", 8, 8, 5.5), scenes.Shape("blue", "square", 24, 24, 5.5))
        image = rendered(scenes.Scene(shapes, ""))
        self.assertTrue(detector.adheres(image, [("red", "circle"), ("blue", "square")]))
        self.assertFalse(detector.adheres(image, [("red", "circle")]))
        self.assertEqual(detector.removal(image, keep=[("red", "circle")], remove=("blue", "square")), (False, True, False))
        only_red = rendered(scenes.Scene(shapes[:1], ""))
        self.assertEqual(detector.removal(only_red, keep=[("red", "circle")], remove=("blue", "square")), (True, True, True))
        # Removed, kept, but another object took the removed one's place: not clean. A copy of the kept one is.
        replaced = rendered(scenes.Scene((shapes[0], scenes.Shape("green", "square", 24, 24, 5.5)), ""))
        self.assertEqual(detector.removal(replaced, keep=[("red", "circle")], remove=("blue", "square")), (True, True, False))
        copied = rendered(scenes.Scene((shapes[0], scenes.Shape("red", "circle", 24, 24, 5.5)), ""))
        self.assertEqual(detector.removal(copied, keep=[("red", "circle")], remove=("blue", "square")), (True, True, True))

    def test_to_uint8_rounds_like_the_serving_pipeline(self):
        values = np.array([-1.0, 0.0, 1.0, 2.0], np.float32).reshape(1, 1, 2, 2).repeat(3, axis=1)
        self.assertEqual(detector.to_uint8(values)[0, :, :, 0].ravel().tolist(), [0, 128, 255, 255])


if __name__ == "__main__":
    unittest.main()
