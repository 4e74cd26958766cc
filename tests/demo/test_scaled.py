import numpy as np

from prodmatch.demo.scaled import perturb_phash, scaled_postings


def test_scaled_postings_keep_groups_and_make_unique_ids(tiny_dir):
    from prodmatch.data import DataDir

    train = DataDir.of(tiny_dir).read_train()
    big = scaled_postings(train, 4 * len(train), seed=1)
    assert len(big) == 4 * len(train) and big["posting_id"].is_unique and big["image"].is_unique
    assert (big.iloc[: len(train)]["title"].to_numpy() == train["title"].to_numpy()).all()
    src = big["source_row"].to_numpy()
    assert (big["label_group"].to_numpy() == train["label_group"].to_numpy()[src]).all()
    assert scaled_postings(train, 4 * len(train), seed=1).equals(big)
    small = scaled_postings(train, 10)
    assert len(small) == 10 and small["posting_id"].isin(train["posting_id"]).all()


def test_perturbed_phash_stays_within_the_flip_budget():
    rng = np.random.default_rng(0)
    for _ in range(50):
        flipped = perturb_phash("a5a5a5a5a5a5a5a5", rng, max_flips=3)
        assert len(flipped) == 16 and bin(int(flipped, 16) ^ 0xA5A5A5A5A5A5A5A5).count("1") <= 3
