import copy
import tempfile
import unittest
from pathlib import Path

import torch
import torch.nn.functional as F

from tests.helpers import TINY, tiny_pairs
from snoopi_train import scenes
from snoopi_train.clip_ids import caption_ids
from snoopi_train.diffusion import add_noise, guided_eps, one_step, teacher_one_step
from snoopi_train.nets import AutoEncoder, TextEncoder, UNet, add_lora
from snoopi_train.checkpoint import Progress
from snoopi_train.scene_clip import SceneCLIP
from snoopi_train.stages import common
from snoopi_train.stages.autoencoder import AutoencoderSettings, train_autoencoder
from snoopi_train.stages.common import StepBudget
from snoopi_train.stages.distillation import vsd_gradient, vsd_loss
from snoopi_train.stages.student import StudentSettings, sample_kappa, student_finished, student_lr, train_student
from snoopi_train.stages.teacher import TeacherSettings, teacher_lr, train_teacher


def fixed_batch(size=16):
    images, captions, _ = scenes.batch(4, 0, size)
    return torch.from_numpy(images), torch.tensor([caption_ids(c) for c in captions])


def losses_over(steps, step_fn):
    return [step_fn() for _ in range(steps)]


class LossesDecreaseTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)

    def test_autoencoder_reconstruction_loss(self):
        ae = AutoEncoder(TINY)
        opt = torch.optim.Adam(ae.parameters(), lr=3e-3)
        x, _ = fixed_batch()

        def step():
            loss = F.l1_loss(ae.decoder(ae.encoder(x)), x)
            opt.zero_grad(), loss.backward(), opt.step()
            return loss.item()

        losses = losses_over(40, step)
        self.assertLess(losses[-1], 0.7 * losses[0])

    def test_teacher_denoising_loss_with_the_text_encoder(self):
        unet, text = UNet(TINY), TextEncoder(TINY)
        opt = torch.optim.Adam(list(unet.parameters()) + list(text.parameters()), lr=2e-3)
        _, ids = fixed_batch()
        x0 = torch.randn(16, 4, 8, 8)
        noise, t = torch.randn_like(x0), torch.randint(0, 1000, (16,))

        def step():
            loss = F.mse_loss(unet(add_noise(x0, noise, t), t, text(ids)), noise)
            opt.zero_grad(), loss.backward(), opt.step()
            return loss.item()

        losses = losses_over(40, step)
        self.assertLess(losses[-1], 0.7 * losses[0])

    def test_lora_teacher_loss_and_only_lora_weights_train(self):
        teacher, text = UNet(TINY), TextEncoder(TINY)
        lora = copy.deepcopy(teacher)
        params = add_lora(lora, rank=4, scale=2.0)
        self.assertTrue(params)
        self.assertEqual({id(p) for p in lora.parameters() if p.requires_grad}, {id(p) for p in params})
        _, ids = fixed_batch()
        context = text(ids).detach()
        x0 = torch.randn(16, 4, 8, 8)
        noise, t = torch.randn_like(x0), torch.randint(0, 1000, (16,))
        with torch.no_grad():  # zero-initialised B: the LoRA teacher starts as the teacher
            torch.testing.assert_close(lora(x0, t, context), teacher(x0, t, context))
        opt = torch.optim.Adam(params, lr=1e-2)

        def step():
            loss = F.mse_loss(lora(add_noise(x0, noise, t), t, context), noise)
            opt.zero_grad(), loss.backward(), opt.step()
            return loss.item()

        losses = losses_over(30, step)
        self.assertLess(losses[-1], 0.9 * losses[0])

    def test_vsd_gradient_moves_the_student_towards_the_teacher(self):
        x0 = torch.randn(8, 4, 8, 8, requires_grad=True)
        real = torch.randn(8, 4, 8, 8)
        fake = x0.detach().clone()  # the LoRA teacher has learnt the student's samples exactly
        grad = vsd_gradient(x0.detach(), real, fake)
        loss = vsd_loss(x0, grad)
        self.assertTrue(torch.isfinite(loss))
        loss.backward()
        torch.testing.assert_close(x0.grad, grad / 8)
        before = (x0 - real).norm()
        with torch.no_grad():
            after = (x0 - 0.01 * x0.grad - real).norm()
        self.assertLess(after, before)
        self.assertTrue(torch.equal(vsd_gradient(x0.detach(), real, real), torch.zeros_like(real)))

    def test_guided_eps_is_the_cfg_combination(self):
        unet, text = UNet(TINY), TextEncoder(TINY)
        _, ids = fixed_batch(4)
        cond, uncond = text(ids).detach(), text(torch.tensor([caption_ids("")] * 4)).detach()
        x, t = torch.randn(4, 4, 8, 8), torch.full((4,), 500)
        with torch.no_grad():
            e_c, e_u = unet(x, t, cond), unet(x, t, uncond)
            torch.testing.assert_close(guided_eps(unet, x, t, cond, uncond, 3.0), e_u + 3.0 * (e_c - e_u), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(guided_eps(unet, x, t, cond, uncond, 1.0), e_c, rtol=1e-4, atol=1e-5)


class KappaTest(unittest.TestCase):
    def test_pgsb_draws_kappa_uniformly_in_range_for_both_teachers(self):
        settings = StudentSettings(kappa_mode="random", kappa_min=0.5, kappa_max=4.0)
        g = torch.Generator().manual_seed(1)
        draws = [sample_kappa(settings, g) for _ in range(4000)]
        self.assertTrue(all(real == fake for real, fake in draws))
        values = torch.tensor([real for real, _ in draws])
        self.assertGreaterEqual(values.min().item(), 0.5)
        self.assertLess(values.max().item(), 4.0)
        self.assertAlmostEqual(values.mean().item(), 2.25, delta=0.06)  # standard error 0.016
        self.assertAlmostEqual(values.var().item(), 3.5**2 / 12, delta=0.08)
        for quarter in range(4):  # each quarter of the range gets about a quarter of the draws
            low = 0.5 + 0.875 * quarter
            share = ((values >= low) & (values < low + 0.875)).float().mean().item()
            self.assertAlmostEqual(share, 0.25, delta=0.03)

    def test_the_same_step_draws_the_same_kappa(self):
        settings = StudentSettings()
        a = sample_kappa(settings, torch.Generator().manual_seed(77))
        b = sample_kappa(settings, torch.Generator().manual_seed(77))
        self.assertEqual(a, b)

    def test_swiftbrush_uses_a_fixed_kappa_on_the_frozen_teacher_only(self):
        settings = StudentSettings(kappa_mode="fixed", kappa_fixed=4.5)
        g = torch.Generator().manual_seed(1)
        self.assertEqual({sample_kappa(settings, g) for _ in range(50)}, {(4.5, 1.0)})

    def test_unknown_mode_is_refused(self):
        with self.assertRaisesRegex(ValueError, "kappa_mode"):
            sample_kappa(StudentSettings(kappa_mode="cosine"), torch.Generator())


class StudentScheduleTest(unittest.TestCase):
    def test_learning_rate_is_constant_then_falls_linearly_to_zero(self):
        s = StudentSettings(steps=100, lr=1e-4)
        self.assertEqual([student_lr(s, k) for k in (0, 49)], [1e-4, 1e-4])
        self.assertAlmostEqual(student_lr(s, 50), 1e-4)
        self.assertAlmostEqual(student_lr(s, 75), 0.5e-4)
        self.assertAlmostEqual(student_lr(s, 99), 0.02e-4)


class ResumeTest(unittest.TestCase):
    def test_checkpoint_then_resume_matches_an_uninterrupted_run(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            whole = train_autoencoder(TINY, AutoencoderSettings(steps=12, batch=8), Path(a), checkpoint_every=4)
            stopped = _StopAfter(8)
            with self.assertRaises(_Interrupted):
                train_autoencoder(TINY, AutoencoderSettings(steps=12, batch=8), Path(b), checkpoint_every=4, on_step=stopped)
            self.assertTrue((Path(b) / "autoencoder.ckpt").exists())
            resumed = train_autoencoder(TINY, AutoencoderSettings(steps=12, batch=8), Path(b), checkpoint_every=4)
            for (name, p), (_, q) in zip(whole.state_dict().items(), resumed.state_dict().items()):
                torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")
            # A finished stage is loaded, not retrained.
            again = train_autoencoder(TINY, AutoencoderSettings(steps=12, batch=8), Path(b), checkpoint_every=4, on_step=_StopAfter(0))
            torch.testing.assert_close(again.decoder.net[0].weight, resumed.decoder.net[0].weight)


class _Interrupted(Exception):
    pass


class _StopAfter:
    def __init__(self, steps):
        self.steps = steps

    def __call__(self, step):
        if step >= self.steps:
            raise _Interrupted()


class StudentTest(unittest.TestCase):
    def test_students_train_record_a_curve_and_resume(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            ae = train_autoencoder(TINY, AutoencoderSettings(steps=3, batch=8), work)
            teacher, text = train_teacher(TINY, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1), ae, work)
            points = []
            curve_fn = lambda unet: points.append(1) or {"held_out": 0.5}  # noqa: E731
            clip = SceneCLIP(TINY.text_width).eval().requires_grad_(False)  # the default recipe adds the CLIP loss
            pairs = tiny_pairs(teacher, text, work)  # and the paired regression
            for mode in ("random", "fixed"):
                settings = StudentSettings(kappa_mode=mode, steps=6, batch=4, eval_every=3, lora_rank=4, warmup=2)
                result = train_student(f"student-{mode}", TINY, settings, teacher, text, ae, work, curve_fn, checkpoint_every=3, scene_clip=clip,
                                       paired=pairs)
                self.assertEqual([p["step"] for p in result.curve], [0, 3, 6])
                changed = any(not torch.equal(p, q) for p, q in zip(result.unet.parameters(), teacher.parameters()))
                self.assertTrue(changed, mode)
                z = torch.randn(2, 4, 8, 8)
                with torch.no_grad():
                    self.assertTrue(torch.isfinite(one_step(result.unet, z, text(torch.tensor([caption_ids("a red circle")] * 2)))).all())
            self.assertTrue((work / "student-random.pt").exists())
            self.assertFalse((work / "student-random.ckpt").exists())
            # Asking for more steps later extends the finished student instead of starting again.
            longer = StudentSettings(kappa_mode="random", steps=9, batch=4, eval_every=3, lora_rank=4, warmup=2)
            extended = train_student("student-random", TINY, longer, teacher, text, ae, work, curve_fn, checkpoint_every=3, scene_clip=clip, paired=pairs)
            self.assertEqual([p["step"] for p in extended.curve], [0, 3, 6, 9])
            self.assertEqual(torch.load(work / "student-random.pt")["step"], 9)


    def test_the_saved_student_is_the_moving_average_and_training_resumes_from_the_last_weights(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            ae = train_autoencoder(TINY, AutoencoderSettings(steps=3, batch=8), work)
            teacher, text = train_teacher(TINY, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1), ae, work)
            settings = StudentSettings(steps=6, batch=4, lora_rank=4, warmup=2, clip_weight=0.0, ema=0.9, paired_weight=0.0)
            result = train_student("avg", TINY, settings, teacher, text, ae, work)
            state = torch.load(work / "avg.pt")
            self.assertEqual(state["prediction"], "sample")
            average, last = state["unet"], state["training_unet"]
            self.assertTrue(any(not torch.equal(average[k], last[k]) for k in average), "the average differs from the last weights")
            self.assertTrue(all(torch.equal(v, result.unet.state_dict()[k]) for k, v in average.items()), "the result is the average")
            # Without an average the saved student is the last weights.
            train_student("plain", TINY, StudentSettings(steps=6, batch=4, lora_rank=4, warmup=2, clip_weight=0.0, ema=0.0, paired_weight=0.0), teacher, text, ae, work)
            self.assertNotIn("training_unet", torch.load(work / "plain.pt"))
            # Identical up to the end of the warm-up: the average starts from the student there.
            early_avg = train_student("early-avg", TINY, StudentSettings(steps=2, batch=4, lora_rank=4, warmup=2, clip_weight=0.0, ema=0.9, paired_weight=0.0), teacher, text, ae, work)
            early_plain = train_student("early-plain", TINY, StudentSettings(steps=2, batch=4, lora_rank=4, warmup=2, clip_weight=0.0, ema=0.0, paired_weight=0.0), teacher, text, ae, work)
            for (k, a), b in zip(early_avg.unet.state_dict().items(), early_plain.unet.state_dict().values()):
                self.assertTrue(torch.equal(a, b), k)

    def test_an_epsilon_student_of_an_older_recipe_is_set_aside_and_trained_again(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            ae = train_autoencoder(TINY, AutoencoderSettings(steps=3, batch=8), work)
            teacher, text = train_teacher(TINY, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1), ae, work)
            old = {"step": 6, "unet": teacher.state_dict(), "curve": [{"step": 6, "held_out": 0.5}], "settings": {"steps": 6, "batch": 4}}
            torch.save(old, work / "pgsb.pt")  # a v3 file: no "prediction", no warm-up setting
            self.assertFalse(student_finished(old, 6))
            self.assertTrue(student_finished({**old, "settings": {"warmup": 300}}, 6), "an x0 file of before the record counts as x0")
            result = train_student("pgsb", TINY, StudentSettings(steps=3, batch=4, lora_rank=4, warmup=1, clip_weight=0.0, paired_weight=0.0), teacher, text, ae, work)
            self.assertEqual(result.steps, 3)
            self.assertEqual(torch.load(work / "pgsb.pt")["prediction"], "sample")
            self.assertEqual(torch.load(work / "pgsb.pt.epsilon-student")["curve"], old["curve"], "the old file is kept, renamed")

    def test_warmup_moves_the_x0_student_to_the_teachers_one_step_estimate(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            ae = train_autoencoder(TINY, AutoencoderSettings(steps=3, batch=8), work)
            teacher, text = train_teacher(TINY, TeacherSettings(steps=4, text_steps=2, batch=8, warmup=1), ae, work)
            z = torch.randn(16, 4, 8, 8, generator=torch.Generator().manual_seed(9))
            cond = text(torch.tensor([caption_ids(c) for c in scenes.captions(12, 0, 16)[0]])).detach()
            with torch.no_grad():
                target = teacher_one_step(teacher, z, cond)
                before = F.mse_loss(one_step(teacher, z, cond), target).item()  # the student starts as the teacher
            settings = StudentSettings(steps=150, warmup=150, batch=16, lora_rank=4, clip_weight=0.0, lr=5e-3, paired_weight=0.0)  # the v4 warm-up
            student = train_student("warm", TINY, settings, teacher, text, ae, work).unet
            with torch.no_grad():
                after = F.mse_loss(one_step(student, z, cond), target).item()
            self.assertLess(after, 0.5 * before, (before, after))


class BudgetAndPrefetchTest(unittest.TestCase):
    def run_budget(self, settings, clock, **probe):
        progress = Progress("s", settings.steps, 0)
        ticks = iter(clock)
        original = common.time.monotonic
        common.time.monotonic = lambda: next(ticks)
        try:
            budget = StepBudget("s", settings, start=0, progress=progress, **probe)
            for step in range(1, 700):
                budget.after(step)
        finally:
            common.time.monotonic = original
        return progress

    def test_budget_lowers_the_steps_to_what_fits_after_the_probe(self):
        settings = StudentSettings(steps=20000, time_budget_s=60)
        # created at 96 s; 200 steps (50 → 250) in 4 s: 50 steps/s, with 52 s left at step 250
        progress = self.run_budget(settings, [96.0, 100.0, 104.0])
        self.assertEqual(settings.steps, 2600)  # 250 + 0.92 × 50 × 52 = 2642, in hundreds
        self.assertEqual(progress.total, 2600)

    def test_budget_measures_the_speed_after_the_warmup(self):
        settings = StudentSettings(steps=20000, time_budget_s=60, warmup=300)
        # fast warm-up (300 steps in 2 s), then 200 steps (350 → 550) in 20 s: 10 steps/s, 36 s left
        self.run_budget(settings, [0.0, 4.0, 24.0], probe=550, skip=350)
        self.assertEqual(settings.steps, 800)  # 550 + 0.92 × 10 × 36 = 881

    def test_progress_right_after_a_restart_says_it_is_measuring(self):
        import contextlib, io
        progress = Progress("s", 1000, 0)
        progress.restart(300)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            progress.line(300, loss=1.0)
        self.assertIn("measuring speed", out.getvalue())
        self.assertNotIn("nan", out.getvalue())

    def test_no_budget_or_a_resumed_stage_keeps_its_steps(self):
        for budget_s, start in ((0.0, 0), (60.0, 100)):
            settings = StudentSettings(steps=20000, time_budget_s=budget_s)
            budget = StepBudget("s", settings, start=start)
            for step in range(start + 1, start + 300):
                budget.after(step)
            self.assertEqual(settings.steps, 20000)

    def test_teacher_lr_warms_up_then_decays_to_zero(self):
        s = TeacherSettings(steps=1000, lr=1.0, warmup=10, decay_from=0.6)
        self.assertAlmostEqual(teacher_lr(0, s), 0.1)
        self.assertAlmostEqual(teacher_lr(500, s), 1.0)
        self.assertAlmostEqual(teacher_lr(800, s), 0.5)
        self.assertAlmostEqual(teacher_lr(999, s), 1 / 400)
        self.assertAlmostEqual(teacher_lr(999, TeacherSettings(steps=1000, lr=1.0, warmup=10)), 1.0)

    def test_batches_drawn_ahead_by_workers_equal_the_direct_ones_and_stop_early(self):
        calls = [(9, k * 4, 4) for k in range(6)]
        direct = list(scenes.ahead(scenes.batch, calls, workers=0))
        ahead = scenes.ahead(scenes.batch, calls, workers=2)
        for (images, captions, _), (want_images, want_captions, _) in zip(ahead, direct[:3]):
            self.assertEqual(captions, want_captions)
            self.assertTrue((images == want_images).all())
        ahead.close()  # stopping early ends the worker processes


if __name__ == "__main__":
    unittest.main()
