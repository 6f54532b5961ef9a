import itertools
import unittest

import numpy as np

from snoopi_train import scenes


class ScenesTest(unittest.TestCase):
    def test_same_seed_and_index_give_the_same_image_and_caption(self):
        a_images, a_captions, _ = scenes.batch(11, 40, 8)
        b_images, b_captions, _ = scenes.batch(11, 40, 8)
        np.testing.assert_array_equal(a_images, b_images)
        self.assertEqual(a_captions, b_captions)

    def test_a_batch_is_its_scenes_one_by_one(self):
        images, _, batch_scenes = scenes.batch(3, 100, 4, caption_variants=False)
        for i, scene in enumerate(batch_scenes):
            self.assertEqual(scene, scenes.sample_scene(3, 100 + i))
            np.testing.assert_allclose(images[i], scenes.render(scene).transpose(2, 0, 1) * 2 - 1, atol=1e-6)

    def test_captions_alone_are_the_batch_captions(self):
        _, batch_captions, batch_scenes = scenes.batch(11, 40, 8)
        self.assertEqual(scenes.captions(11, 40, 8), (batch_captions, batch_scenes))

    def test_other_indices_and_seeds_differ(self):
        a, _, _ = scenes.batch(1, 0, 8)
        b, _, _ = scenes.batch(1, 8, 8)
        c, _, _ = scenes.batch(2, 0, 8)
        self.assertFalse(np.array_equal(a, b))
        self.assertFalse(np.array_equal(a, c))

    def test_training_scenes_never_contain_a_held_out_pair(self):
        self.assertEqual(len(scenes.HELD_OUT_PAIRS), 10)
        for i in range(3000):
            objects = scenes.sample_scene(5, i).objects
            for pair in itertools.combinations(objects, 2):
                self.assertNotIn(frozenset(pair), scenes.HELD_OUT_PAIRS, f"scene {i}: {objects}")

    def test_held_out_captions_cover_each_pair_in_both_orders(self):
        items = scenes.held_out_captions()
        self.assertEqual(len(items), 20)
        self.assertEqual({frozenset(o) for o, _ in items}, set(scenes.HELD_OUT_PAIRS))
        self.assertIn(" and ", items[0][1])
        self.assertTrue(items[0][1].endswith(" on a white background"))

    def test_scenes_have_one_to_three_distinct_separated_shapes(self):
        counts = set()
        for i in range(500):
            scene = scenes.sample_scene(9, i)
            counts.add(len(scene.shapes))
            self.assertEqual(len(set(scene.objects)), len(scene.objects))
            for a, b in itertools.combinations(scene.shapes, 2):
                gap = a.radius + b.radius + 2
                self.assertTrue(abs(a.cx - b.cx) >= gap or abs(a.cy - b.cy) >= gap)
        self.assertEqual(counts, {1, 2, 3})

    def test_captions_name_the_objects_in_order(self):
        objects = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
        self.assertEqual(scenes.caption_for(objects), "a red circle, a blue square and a green triangle on a white background")
        self.assertEqual(scenes.caption_for(objects[:1], article=False, background=False), "red circle")

    def test_renders_the_palette_colour_inside_a_shape_and_white_outside(self):
        scene = scenes.Scene((scenes.Shape("blue", "square", 16, 16, 6),), "a blue square")
        image = (scenes.render(scene) * 255).round()
        np.testing.assert_array_equal(image[16, 16], scenes.COLOURS["blue"])
        np.testing.assert_array_equal(image[1, 1], scenes.BACKGROUND)


if __name__ == "__main__":
    unittest.main()
