import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

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


if __name__ == "__main__":
    unittest.main()
