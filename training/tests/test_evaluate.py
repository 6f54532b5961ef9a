import math
import tempfile
import unittest
from pathlib import Path

import numpy as np

from snoopi_train import scenes
from snoopi_train.detector import Found
from snoopi_train.evaluate import (by_caption, caption_interval, layouts_differ, removal_summary, seed_pair_diversity, split_metrics,
                                   t_quantile_975)
from snoopi_train.recipe import write_results


def found(colour, shape, cx, cy):
    return Found(colour, shape, cx, cy, 5.0, 60.0, 0.02, 3.0)


def picture(*shapes):
    return (scenes.render(scenes.Scene(tuple(scenes.Shape(*s) for s in shapes), "")) * 255).round().astype(np.uint8)


class IntervalTest(unittest.TestCase):
    def test_t_quantiles(self):
        for df, want in ((1, 12.706), (4, 2.776), (5, 2.571), (7, 2.365), (19, 2.093), (29, 2.045), (111, 1.982), (10_000, 1.960)):
            self.assertAlmostEqual(t_quantile_975(df), want, delta=0.005, msg=df)

    def test_interval_is_over_captions_not_images(self):
        # 20 captions, each drawn the same way for all of its seeds: 18 always right, 2 always wrong. Per image
        # (500 images) the standard error would be 1.3 points; over the 20 captions that vary it is 6.9.
        per_caption = [1.0] * 18 + [0.0] * 2
        interval = caption_interval(per_caption)
        self.assertAlmostEqual(interval["mean"], 0.9)
        self.assertAlmostEqual(interval["se"], math.sqrt(0.9 * 0.1 * 20 / 19) / math.sqrt(20), places=6)
        self.assertAlmostEqual(interval["low"], 0.9 - 2.093 * interval["se"], delta=0.001)
        self.assertEqual(interval["high"], 1.0, "clipped to 1")
        self.assertEqual(interval["units"], 20)
        self.assertEqual(caption_interval([0.5, 0.5, 0.5])["se"], 0.0)
        self.assertTrue(math.isnan(caption_interval([0.5])["se"]))

    def test_grouping_keeps_the_first_appearance_order(self):
        self.assertEqual(by_caption([1, 2, 3, 4], ["b", "a", "b", "a"]), [[1, 3], [2, 4]])


class DiversityTest(unittest.TestCase):
    def test_layouts_differ_by_objects_or_by_positions(self):
        a = [found("red", "circle", 8, 8), found("blue", "square", 24, 24)]
        self.assertFalse(layouts_differ(a, list(reversed(a))))
        self.assertFalse(layouts_differ(a, [found("red", "circle", 9.5, 9), found("blue", "square", 23, 25)]), "a pixel or two is the same layout")
        self.assertTrue(layouts_differ(a, [found("red", "circle", 8, 8), found("blue", "square", 24, 17)]), "moved 7 px")
        self.assertTrue(layouts_differ(a, [found("red", "circle", 8, 8), found("blue", "circle", 24, 24)]), "another object")
        self.assertTrue(layouts_differ(a, a[:1]), "one object fewer")
        self.assertTrue(layouts_differ(a, a + [found("other", "circle", 16, 16)]), "an extra object")
        # Two objects of one kind swapping places is the same layout.
        two = [found("red", "circle", 8, 8), found("red", "circle", 24, 24)]
        self.assertFalse(layouts_differ(two, list(reversed(two))))

    def test_seed_pair_diversity_counts_differing_pairs(self):
        same = [found("red", "circle", 8, 8)]
        moved = [found("red", "circle", 20, 20)]
        self.assertEqual(seed_pair_diversity([same, same, same]), 0.0)
        self.assertAlmostEqual(seed_pair_diversity([same, same, moved]), 2 / 3)
        self.assertTrue(math.isnan(seed_pair_diversity([same])))

    def test_split_metrics_on_rendered_images(self):
        # Caption A: two seeds, same layout, right. Caption B: two seeds, different positions, one wrong (a blue square instead).
        images = np.stack([picture(("red", "circle", 8, 8, 5)), picture(("red", "circle", 8.5, 8, 5)),
                           picture(("green", "triangle", 8, 8, 5)), picture(("blue", "square", 22, 22, 5))])
        objects = [[("red", "circle")]] * 2 + [[("green", "triangle")]] * 2
        captions = ["a red circle"] * 2 + ["a green triangle"] * 2
        m = split_metrics(images, objects, captions)
        self.assertEqual(m["per_caption_adherence"], [1.0, 0.5])
        self.assertEqual(m["per_caption_diversity"], [0.0, 1.0])
        self.assertAlmostEqual(m["adherence"], 0.75)
        self.assertAlmostEqual(m["diversity"], 0.5)
        self.assertEqual(m["adherence_interval"]["units"], 2)


class RemovalTest(unittest.TestCase):
    def test_exact_counts_only_images_with_exactly_the_kept_objects(self):
        keep, remove = [("red", "circle")], ("blue", "square")
        images = np.stack([picture(("red", "circle", 8, 8, 5)),  # exact
                           picture(("red", "circle", 8, 8, 5), ("red", "circle", 24, 24, 5)),  # a copy: clean, not exact
                           picture(("red", "circle", 8, 8, 5), ("green", "square", 24, 24, 5)),  # replaced: success only
                           picture(("red", "circle", 8, 8, 5), ("blue", "square", 24, 24, 5))])  # not removed
        r = removal_summary(images, [keep] * 4, [remove] * 4, pairs=2, seeds=2)
        self.assertEqual((r["removed"], r["kept"], r["success"], r["clean"], r["exact"]), (0.75, 1.0, 0.75, 0.5, 0.25))
        self.assertEqual(r["per_pair"], [1.0, 0.5])
        self.assertEqual(r["success_interval"]["units"], 2)


class ResultsTableTest(unittest.TestCase):
    def test_tables_show_intervals_diversity_and_exact_removal(self):
        interval = lambda mean, low, high: {"mean": mean, "se": 0.05, "low": low, "high": high, "units": 20}  # noqa: E731
        row = lambda model, split, a, d: {"model": model, "split": split, "unet_evaluations": 1, "images": 500, "adherence": a,  # noqa: E731
                                          "adherence_interval": interval(a, a - 0.1, min(1, a + 0.1)), "diversity": d,
                                          "diversity_interval": interval(d, max(0, d - 0.05), d + 0.05)}
        rates = lambda s: {"removed": s, "kept": 1.0, "success": s, "clean": s / 2, "exact": s / 4, "per_pair": [s, s],  # noqa: E731
                           "success_interval": interval(s, s - 0.2, min(1, s + 0.2))}
        results = {
            "adherence": [row("teacher", "held_out", 0.8, 0.9), row("teacher", "seen", 0.7, 0.85),
                          row("PG-SB", "held_out", 0.85, 0.02), row("PG-SB", "seen", 0.75, 0.0)],
            "curves": {"PG-SB": [{"step": 0, "held_out": 0.0}]},
            "nasa": {"alpha": 1.0, "projection_alpha": 1.5, "default": "projection", "seeds": 100,
                     "pairs": [{"prompt": "red circle and blue square", "negative": "blue square"}, {"prompt": "x", "negative": "y"}],
                     **{k: rates(0.5) for k in ("without", "with", "with_projection", "swiftbrush_without", "swiftbrush_with",
                                                "swiftbrush_with_projection")}},
            "nasa_survey": {"pairs": 2, "seeds": 10, **{k: rates(0.5) for k in ("without", "with", "with_projection", "swiftbrush_without",
                                                                                  "swiftbrush_with", "swiftbrush_with_projection")}},
        }
        with tempfile.TemporaryDirectory() as folder:
            write_results(Path(folder), results)
            table = (Path(folder) / "results.md").read_text()
        self.assertIn("| teacher | 1 | 80.0% (70–90) | 70.0% (60–80) | 90.0% (85–95) | 85.0% (80–90) |", table)
        self.assertIn("| PG-SB | 1 | 85.0% (75–95) | 75.0% (65–85) | 2.0% (0–7) | 0.0% (0–5) |", table)
        self.assertIn("| with NASA + projection (α = 1.5) | 50.0% | 100.0% | 50.0% (30–70) | 25.0% | 12.5% |", table)
        self.assertIn("| PG-SB with NASA | 50.0% | 100.0% | 50.0% (30–70) | 25.0% | 12.5% | 0 of 2 |", table)


if __name__ == "__main__":
    unittest.main()
