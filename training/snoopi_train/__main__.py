"""`python3 -m snoopi_train --help` (run from training/): the whole recipe, resumable."""
import os

# PyTorch's own threads do the parallel work; a multi-threaded BLAS underneath them oversubscribes
# the cores (measured 2.6× slower on two cores). Set before torch loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))

from .cli import main  # noqa: E402

raise SystemExit(main())
