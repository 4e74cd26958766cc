"""A small synthetic catalogue for the dedup tests: products with a brand, a model code, a kind and a price,
each listed one to three times with reworded titles, descriptions in another order and prices a little off,
as two shops would list them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BRANDS = ["sony", "bose", "canon", "nikon", "samsung", "philips", "panasonic", "garmin", "logitech", "netgear"]
KINDS = ["turntable", "speaker system", "digital camera", "headphones", "ethernet switch", "dvd player",
         "gps navigator", "wireless mouse", "lcd monitor", "blu-ray player", "camcorder", "soundbar"]
WORDS = ["black", "silver", "compact", "wireless", "hd", "portable", "pro", "series", "remote", "digital"]


def make_catalogue(n_products: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table with id, name, description, price, maker, shop; matching pairs id_a, id_b)."""
    rng = np.random.default_rng(seed)
    rows, pairs = [], []
    for product in range(n_products):
        brand = str(rng.choice(BRANDS))
        kind = str(rng.choice(KINDS))
        code = f"{''.join(rng.choice(list('ABCDEFGHKLMNPRSTX'), 2))}{int(rng.integers(10, 999))}{rng.choice(['', 'B', 'S'])}"
        extras = list(rng.choice(WORDS, 3, replace=False))
        price = float(rng.integers(20, 900))
        copies = int(rng.choice([1, 2, 2, 3]))
        ids = []
        for copy in range(copies):
            shown_code = code if copy % 2 == 0 else f"{code[:2]}-{code[2:]}"
            words = [brand.title(), *rng.permutation(extras[: 2 + copy % 2]).tolist(), kind.title()]
            name = " ".join(words) + f" - {shown_code}" if copy % 2 == 0 else f"{brand.upper()} {shown_code} {kind}"
            record_id = f"p{product}x{copy}"
            ids.append(record_id)
            rows.append({"id": record_id, "name": name,
                         "description": f"{kind} by {brand}, model {shown_code}, {' '.join(extras)}" if copy != 1 else "",
                         "price": f"${price * (1 + 0.03 * copy):.2f}" if copy != 2 else "",
                         "maker": brand.upper() if copy == 1 else "", "shop": "a" if copy % 2 == 0 else "b"})
        pairs.extend((ids[0], other) for other in ids[1:])
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return table, pd.DataFrame(pairs, columns=["id_a", "id_b"])


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory) -> dict[str, Path]:
    """Paths of a catalogue and its labels: train.csv (+ pairs, clusters), test.csv (other products) + pairs."""
    root = tmp_path_factory.mktemp("catalogue")
    train, train_pairs = make_catalogue(80, seed=1)
    test, test_pairs = make_catalogue(50, seed=2)
    test["id"] = "t" + test["id"]
    test_pairs = test_pairs.apply(lambda column: "t" + column)
    paths = {"train": root / "train.csv", "train_pairs": root / "train_pairs.csv", "test": root / "test.csv",
             "test_pairs": root / "test_pairs.csv", "root": root}
    train.to_csv(paths["train"], index=False)
    train_pairs.to_csv(paths["train_pairs"], index=False)
    test.to_csv(paths["test"], index=False)
    test_pairs.to_csv(paths["test_pairs"], index=False)
    return paths


COLUMNS = ["--id", "id", "--title", "name", "--text", "description", "--brand", "maker", "--price", "price"]
