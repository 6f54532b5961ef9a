import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

from snoopi_train import scenes
from snoopi_train.evaluate import REMOVAL_PAIRS, survey_pairs
from snoopi_train.cli import parse, run_options
from snoopi_train.recipe import bundle_version, student_command, write_results
from snoopi_train.stages.removal import REMOVAL_WEIGHT
from snoopi_train.stages.student import StudentSettings

TRAINING_DIR = Path(__file__).resolve().parent.parent


def run_recipe(work: Path, *options: str) -> str:
    result = subprocess.run([sys.executable, "-m", "snoopi_train", "--quick", "--work", str(work), "--results", str(work / "results"), *options],
                            cwd=TRAINING_DIR, capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    if result.returncode != 0:
        raise AssertionError(f"recipe failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


class StudentsTogetherTest(unittest.TestCase):
    """The recipe's default runs the two students as two processes; that must train exactly the
    students that one process training them one after the other would."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        run_recipe(cls.tmp / "shared", "--threads", "1", "--until", "scene_clip")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_students_trained_together_equal_those_trained_one_by_one(self):
        together, one_by_one = self.tmp / "together", self.tmp / "one-by-one"
        shutil.copytree(self.tmp / "shared", together)
        shutil.copytree(self.tmp / "shared", one_by_one)
        log = run_recipe(together, "--threads", "2", "--until", "swiftbrush")
        self.assertIn("training pgsb and swiftbrush at once, one process each with 1 thread(s)", log)
        self.assertIn("[pgsb] done", log)
        self.assertIn("[swiftbrush] done", log)
        log = run_recipe(one_by_one, "--threads", "1", "--until", "swiftbrush", "--students", "one-by-one")
        self.assertNotIn("at once", log)
        for name in ("pgsb", "swiftbrush"):
            a, b = torch.load(together / f"{name}.pt"), torch.load(one_by_one / f"{name}.pt")
            self.assertEqual(a["step"], b["step"])
            self.assertEqual(a["curve"], b["curve"])
            for key, tensor in a["unet"].items():
                self.assertTrue(torch.equal(tensor, b["unet"][key]), f"{name}: {key} differs")
        teacher = torch.load(together / "teacher.pt")["unet"]
        self.assertFalse(all(torch.equal(teacher[k], v) for k, v in a["unet"].items()), "the students trained")

        # A rerun starts no student process; more steps later extend both, together.
        self.assertNotIn("at once", run_recipe(together, "--threads", "2", "--until", "swiftbrush"))
        log = run_recipe(together, "--threads", "2", "--until", "swiftbrush", "--student-steps", "12")
        self.assertIn("training pgsb and swiftbrush at once", log)
        self.assertIn("[pgsb] extending from step 10 to 12", log)
        self.assertEqual(torch.load(together / "swiftbrush.pt")["step"], 12)

    def test_until_pairs_makes_the_teachers_samples_and_trains_no_student(self):
        work = self.tmp / "pairs"
        shutil.copytree(self.tmp / "shared", work)
        run_recipe(work, "--threads", "1", "--until", "pairs", "--removal")
        made = sorted(p.name for p in work.iterdir() if p.suffix == ".pt")
        self.assertIn("paired-targets.pt", made)
        self.assertIn("removal-targets.pt", made)
        self.assertFalse({"pgsb.pt", "swiftbrush.pt"} & set(made), "--until pairs trained a student")


class GroundedRecipeTest(unittest.TestCase):
    def test_a_grounded_run_sets_the_plain_teacher_aside_and_trains_its_own(self):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            run_recipe(work, "--threads", "1", "--until", "scene_clip")
            plain = torch.load(work / "teacher.pt")
            log = run_recipe(work, "--threads", "1", "--until", "pgsb", "--grounded")
            self.assertIn("is of the plain recipe, this run is grounded: moved teacher.pt, scene_clip.pt", log)
            self.assertIn("[pgsb] done", log)
            grounded = torch.load(work / "teacher.pt")
            self.assertEqual((grounded["recipe"], grounded["settings"]["grounding"]), ("grounded", 0.02))
            self.assertEqual(torch.load(work / "teacher-plain" / "teacher.pt")["settings"], plain["settings"])
            self.assertEqual(sorted(p.name for p in work.iterdir() if p.suffix == ".pt"), ["autoencoder.pt", "paired-targets.pt", "pgsb.pt", "scene_clip.pt", "teacher.pt"])
            self.assertNotIn("moved", run_recipe(work, "--threads", "1", "--until", "pgsb", "--grounded"))  # a rerun resumes, nothing moves


class StudentCommandTest(unittest.TestCase):
    def test_a_student_process_gets_every_option_of_the_run(self):
        # A child that missed --grounded took the grounded teacher for another recipe's and set it aside.
        argv = ["--work", "/tmp/w", "--results", "/tmp/r", "--out", "/tmp/o", "--device", "cpu", "--profile", "gpu", "--workers", "2",
                "--budget", "pgsb=60", "--student-steps", "40", "--quick", "--grounded", "--removal", "--threads", "4"]
        run = parse(argv)
        removal = StudentSettings(removal_weight=REMOVAL_WEIGHT)  # what --removal sets (cli.main)
        child = parse(student_command(run_options(run, removal, removal), "pgsb", 2)[3:])
        self.assertEqual((child.only, child.threads), ("pgsb", 2))
        self.assertTrue(child.removal, "a child without --removal would train a student without the removal pairs")
        same = lambda a: {k: v for k, v in vars(a).items() if k not in ("only", "threads", "students", "until")}  # noqa: E731
        self.assertEqual(same(child), same(run))
        weighted = parse(argv[:-3] + ["--removal-weight", "0.5", "--threads", "4"])
        self.assertTrue(weighted.removal, "--removal-weight implies --removal")
        options = run_options(weighted, StudentSettings(removal_weight=0.5), StudentSettings(removal_weight=0.5))
        child = parse(student_command(options, "swiftbrush", 2)[3:])
        self.assertEqual(child.removal_weight, 0.5, "a child without the weight would train at the default one")


class BundleVersionTest(unittest.TestCase):
    def test_each_way_of_training_names_its_own_version(self):
        # The edge caches images under the version: the committed bundle (a PG-SB student of batch 256, exported
        # by a CPU run, NASA with projection by default) must not share one with a CPU retrain (batch 32), nor
        # with the same weights defaulting to plain NASA.
        versions = {(batch, grounded, projection): bundle_version(batch, grounded, projection)
                    for batch in (256, 32) for grounded in (False, True) for projection in (False, True)}
        self.assertEqual(versions[(256, False, False)], "shapes-pgsb-v4")
        self.assertEqual(versions[(32, False, True)], "shapes-pgsb-v4-cpu-nasa-proj")
        self.assertEqual(len(set(versions.values())), 8)
        # A student of the paired recipe draws other images from the same request: a version of its own.
        paired = {bundle_version(batch, grounded, projection, paired=True) for batch, grounded, projection in versions}
        self.assertEqual(bundle_version(32, False, True, paired=True), "shapes-pgsb-v5-cpu-nasa-proj")
        self.assertEqual(len(paired | set(versions.values())), 16)
        removal = {bundle_version(batch, grounded, projection, paired=True, removal=True) for batch, grounded, projection in versions}
        self.assertEqual(bundle_version(32, False, True, paired=True, removal=True), "shapes-pgsb-v5-cpu-removal-nasa-proj")
        self.assertEqual(len(removal | paired | set(versions.values())), 24)
        self.assertEqual(bundle_version(32, False, True, paired=True, removal=0.5), "shapes-pgsb-v5-cpu-removal0.5-nasa-proj")
        committed = json.loads((TRAINING_DIR.parent / "gpu-service/assets/default-bundle/snoopi.json").read_text())
        self.assertEqual(committed["version"], versions[(256, False, "nasa_projection_alpha" in committed)])
        unet_config = json.loads((TRAINING_DIR.parent / "gpu-service/assets/default-bundle/unet/config.json").read_text())
        self.assertIn("1,600 steps × 256", unet_config["snoopi_trained_by"])


class ResultsTablesTest(unittest.TestCase):
    def test_tables_show_each_model_and_each_removal_pair(self):
        rates = lambda success, per_pair: {"removed": success, "kept": 1.0, "success": success, "clean": success / 2, "per_pair": per_pair}  # noqa: E731
        results = {
            "adherence": [{"model": "PG-SB student (one step; 1,600 steps × 256)", "split": split, "unet_evaluations": 1, "images": 500,
                           "adherence": value} for split, value in (("held_out", 0.89), ("seen", 0.84))],
            "curves": {"PG-SB": [{"step": 0, "held_out": 0.0}, {"step": 1600, "held_out": 0.89}]},
            "nasa": {"alpha": 1.0, "projection_alpha": 1.5, "default": "projection", "seeds": 100,
                     "pairs": [{"prompt": "red circle and blue square", "negative": "blue square"},
                               {"prompt": "yellow square and green circle", "negative": "green circle"}],
                     "without": rates(0.2, [0.4, 0.0]), "with": rates(0.53, [1.0, 0.06]), "with_projection": rates(0.91, [1.0, 0.82]),
                     "swiftbrush_without": rates(0.3, [0.5, 0.1]), "swiftbrush_with": rates(0.8, [0.9, 0.7]),
                     "swiftbrush_with_projection": rates(0.85, [0.9, 0.8])},
            "nasa_survey": {"pairs": 3, "seeds": 10, "without": rates(0.1, [0.0, 0.1, 0.2]), "with": rates(0.7, [0.95, 0.9, 0.25]),
                            "with_projection": rates(0.76, [0.95, 0.95, 0.4]),
                            "swiftbrush_without": rates(0.1, [0.1, 0.1, 0.1]), "swiftbrush_with": rates(0.6, [0.6, 0.6, 0.6]),
                            "swiftbrush_with_projection": rates(0.65, [0.6, 0.7, 0.65])},
        }
        with tempfile.TemporaryDirectory() as folder:
            write_results(Path(folder), results)
            table = (Path(folder) / "results.md").read_text()
            self.assertTrue((Path(folder) / "adherence-curve.png").stat().st_size > 0)
        self.assertIn("| PG-SB student (one step; 1,600 steps × 256) | 1 | 89.0% | 84.0% |", table)
        self.assertIn("| with NASA (α = 1.0) | 53.0% | 100.0% | 53.0% | 26.5% |", table)
        self.assertIn("| with NASA + projection (α = 1.5) | 91.0% | 100.0% | 91.0% | 45.5% |", table)
        self.assertIn("the bundle's default: NASA with projection", table)
        self.assertIn("| yellow square and green circle | green circle | 0% | 6% | 82% |", table)
        self.assertIn("(3 pairs × 10 seeds, the α values above)", table)
        self.assertIn("| PG-SB with NASA | 70.0% | 100.0% | 70.0% | 35.0% | 2 of 3 |", table)
        self.assertIn("| PG-SB with NASA + projection | 76.0% | 100.0% | 76.0% | 38.0% | 2 of 3 |", table)
        self.assertIn("| SwiftBrush with NASA + projection | 65.0% | 100.0% | 65.0% | 32.5% | 0 of 3 |", table)

    def test_the_survey_is_every_seen_two_object_pair_both_ways(self):
        pairs = survey_pairs()
        self.assertEqual(len(pairs), 2 * (66 - len(scenes.HELD_OUT_PAIRS)))  # 12 objects: 66 unordered pairs
        self.assertEqual(len({(tuple(objs), neg) for objs, neg in pairs}), len(pairs))
        for objects, negative in pairs:
            self.assertIn(negative, objects)
            self.assertNotIn(frozenset(objects), scenes.HELD_OUT_PAIRS)
        unordered = {(frozenset(objs), neg) for objs, neg in pairs}
        for objects, negative in REMOVAL_PAIRS:
            if len(objects) == 2:
                self.assertIn((frozenset(objects), negative), unordered, "the reported two-object pairs are among them")
        untuned = {(frozenset(objs), neg) for objs, neg in survey_pairs(untuned=True)}
        tuning = {(frozenset(objs), neg) for objs, neg in REMOVAL_PAIRS if len(objs) == 2}
        self.assertEqual(len(tuning), 7)
        self.assertEqual(untuned, unordered - tuning, "the untuned survey: all but the pairs α is tuned on")


class GpuTrainScriptTest(unittest.TestCase):
    """gpu-train.sh is run on a lent GPU machine with minutes of device time: its dry run on the CPU
    must go through every step it takes there."""

    def script(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "GPU_TRAIN_DRY_RUN": "1", "PYTHON": sys.executable, "OPENBLAS_NUM_THREADS": "1"}
        return subprocess.run(["bash", str(TRAINING_DIR / "gpu-train.sh"), *args], capture_output=True, text=True, env=env)

    def test_the_dry_run_trains_evaluates_and_returns_slim_weights_of_the_chosen_recipe(self):
        with tempfile.TemporaryDirectory() as tmp:
            work, out = Path(tmp) / "work", Path(tmp) / "out"
            result = self.script(str(work), str(out), "160", "230", "--", "--removal-weight", "2")
            self.assertEqual(result.returncode, 0, result.stdout[-3000:] + result.stderr[-3000:])
            self.assertIn("all done after", result.stdout)
            returned = sorted(p.name for p in out.iterdir())
            self.assertEqual(returned, ["evaluation.json", "pgsb.pt", "scene_clip.pt", "swiftbrush.pt", "teacher.pt", "train.log"])
            self.assertLessEqual(len(returned), 8, "a lent machine returns at most 8 files")
            for name in ("pgsb", "swiftbrush"):
                student = torch.load(out / f"{name}.pt")
                self.assertEqual(sorted(student), ["curve", "settings", "step", "unet"], "slim: no LoRA teacher or optimiser state")
                self.assertEqual(student["settings"]["removal_weight"], 2.0, f"{name} trained without the recipe options")
            logs = {p.name: p.read_text() for p in (work / "logs").iterdir()}
            self.assertIn("DDIM samples", logs["3-pairs.log"])
            for name in ("4-pgsb.log", "5-swiftbrush.log"):
                self.assertNotIn("DDIM samples", logs[name], "the pairs are made once, before the two student processes")
            self.assertIn("with_projection", json.loads((out / "evaluation.json").read_text())["nasa"])

    def test_it_explains_its_arguments(self):
        usage = self.script()
        self.assertEqual(usage.returncode, 2)
        self.assertIn("gpu-train.sh WORK OUT [TEACHER_SECONDS] [STUDENT_SECONDS] [-- RECIPE_OPTIONS...]", usage.stdout)
        self.assertNotIn("set -u", usage.stdout)
        wrong = self.script("/tmp/w", "/tmp/o", "160", "230", "--removal")
        self.assertEqual(wrong.returncode, 2)
        self.assertIn("expected -- before the recipe options", wrong.stderr)


if __name__ == "__main__":
    unittest.main()
