"""The models' vocabularies, each defined once and importable without torch (argparse choices and config
checks read them; ``tests/models/test_registry.py`` checks each against the classes behind the names).

- :data:`MODEL_KINDS`: encoder kinds (:func:`prodmatch.models.build.build_encoder`);
- :data:`NECKS`: what turns pooled features into the embedding (:class:`prodmatch.models.layers.Neck`);
- :data:`HEAD_NAMES`: margin heads (:data:`prodmatch.models.heads.HEADS`).
"""

from __future__ import annotations

MODEL_KINDS = ("image", "text")
NECKS = ("linear_bn", "linear", "bn", "none")
HEAD_NAMES = ("arcface", "curricularface")
