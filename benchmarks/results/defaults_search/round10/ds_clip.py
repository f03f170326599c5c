"""Round 10 scratch runner: ``defaults_search.py`` with skorch's
``GradientNormClipping(SK_IEG_CLIP)`` added to IEGClassifier's default callbacks (the
real step's gradient is clipped; the meta step's virtual step is not).

    SK_IEG_CLIP=5 python ds_clip.py --dataset digits ... --name clip5 --out F

Without SK_IEG_CLIP it is the committed code."""
import os
import sys
from pathlib import Path

from skorch.callbacks import GradientNormClipping

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
import sk_ieg.estimator as est  # noqa: E402

CLIP = os.environ.get("SK_IEG_CLIP")
if CLIP:
    committed = est.ieg_callbacks

    def ieg_callbacks(**kw):
        return committed(**kw) + [("clip", GradientNormClipping(float(CLIP)))]

    est.ieg_callbacks = ieg_callbacks

import defaults_search  # noqa: E402

defaults_search.main()
