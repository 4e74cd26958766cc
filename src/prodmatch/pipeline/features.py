"""What a test set is matched on: its titles and phashes, the embeddings of the trained runs, and which rows of
each image embedding come from a usable image.

A posting whose image file is missing, empty, truncated or not an image gets a grey placeholder from the
embedding step; placeholders are all alike and would match each other, so the image embeddings' rows of those
postings are marked unusable and every source over them leaves the posting out (one note counts them). Its
phash still applies: it comes from test.csv, computed from the original image.

No usable test image at all (no test_images/ folder, say) while the recipe uses an image model is an error,
unless ``allow_missing_images``: then the image sources are left out for every posting, with a warning.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.images import any_usable_image, unusable_images
from prodmatch.errors import MissingInputError
from prodmatch.pipeline.runs import image_embeddings, test_embeddings_for
from prodmatch.pipeline.tune import Log
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features


def features_for_test(runs: dict[str, Path], recipe: Recipe, test: pd.DataFrame, images_dir: Path,
                      batch_size: int | None = None, allow_missing_images: bool = False, progress: bool = False,
                      log: Log = print) -> Features:
    """The Features the recipe's sources search for ``test`` (embeddings from ``runs``)."""
    if not runs:
        return Features.from_frame(test)
    image_names = image_embeddings(runs)
    names = test["image"].astype(str).tolist()
    # the embedding step finds each unusable image itself; here only "none at all" matters
    if image_names and not any_usable_image(images_dir, names):
        return _without_images(runs, recipe, test, images_dir, unusable_images(images_dir, names), image_names,
                               batch_size, allow_missing_images, progress)
    embedded = test_embeddings_for(runs, test, images_dir, batch_size, progress)
    n_unusable = int((~embedded.image_usable).sum())
    if image_names and n_unusable:
        log(f"note: {n_unusable} of {len(test)} test postings have no usable image and are left out of "
            f"{_image_sources(recipe, image_names)} (their phash from test.csv still counts)")
    usable = {name: embedded.image_usable for name in image_names}
    return Features.from_frame(test, embedded.vectors, usable)


def _image_sources(recipe: Recipe, image_names: list[str]) -> str:
    names = [s.name for s in recipe.sources if set(getattr(s, "embeddings", ())) & set(image_names)]
    return f"the image-based source(s) {', '.join(names)}" if names else "image-based sources"


def _without_images(runs: dict[str, Path], recipe: Recipe, test: pd.DataFrame, images_dir: Path,
                    problems: dict[int, str], image_names: list[str], batch_size: int | None,
                    allow_missing_images: bool, progress: bool) -> Features:
    """Every test image unusable: an error, or (when allowed) the other runs' embeddings with the image
    embeddings marked unusable on every row."""
    if not allow_missing_images:
        reasons = Counter(problems.values())
        raise MissingInputError(
            f"{images_dir}: none of the {len(test)} test images can be used "
            f"({', '.join(f'{reason}: {count}' for reason, count in reasons.most_common())}), "
            f"but recipe '{recipe.name}' matches with an image model ({', '.join(image_names)}). Put the test images "
            "there, or pass --allow-missing-images to match by title and phash alone")
    from prodmatch.models.inputs import ImageReadWarning, unreadable_summary  # torch: image recipes only

    paths = [images_dir / name for name in test["image"].astype(str)]
    warnings.warn(f"{unreadable_summary(paths, problems)}; --allow-missing-images: every posting is left out of "
                  f"{_image_sources(recipe, image_names)}", ImageReadWarning, stacklevel=3)
    other_runs = {name: run for name, run in runs.items() if name not in image_names}
    vectors = test_embeddings_for(other_runs, test, images_dir, batch_size, progress).vectors if other_runs else {}
    never = np.zeros(len(test), dtype=bool)
    for name in image_names:
        vectors[name] = np.zeros((len(test), 1), np.float32)  # never searched: no row is usable
    return Features.from_frame(test, vectors, {name: never for name in image_names})
