import pytest
import yaml

from prodmatch.train.config import TrainConfig, load_config, parse_train_args, save_config
from tests.train.conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_are_valid(path):
    config = load_config(path)
    assert config.run_name == path.stem


def test_shipped_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {"image-effnet-b3.yaml", "text-indobert.yaml", "image-demo.yaml", "text-demo.yaml",
            "text-minilm-cpu.yaml", "image-visual-demo.yaml", "image-visual-demo-full.yaml"} <= names


def test_visual_demo_configs_fast_and_full():
    """scripts/visual_demo.sh: the default trains the last blocks on cached frozen-layer outputs, --full the whole
    backbone; both the visual task with hierarchical heads on EfficientNet-Lite0."""
    fast = load_config(REPO / "configs" / "image-visual-demo.yaml")
    full = load_config(REPO / "configs" / "image-visual-demo-full.yaml")
    assert fast.task == full.task == "visual" and fast.hierarchy and full.hierarchy
    assert fast.freeze_layers > 0 and fast.cache_frozen and fast.cached_views > 1
    assert full.freeze_layers == 0
    assert fast.backbone == full.backbone == "tf_efficientnet_lite0"


def test_flags_override_yaml_which_overrides_defaults(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("model: text\nbackbone: minilm-pypi\nepochs: 7\nlr: 0.001\namp: false\n")
    args, config = parse_train_args(["--config", str(path), "--epochs", "3", "--fold", "2", "--amp",
                                     "--mean", "0.5", "0.5", "0.5", "--data-dir", "d"])
    assert config.model == "text" and config.lr == 0.001  # from YAML
    assert config.epochs == 3 and config.fold == 2 and config.amp is True  # flags win
    assert config.mean == [0.5, 0.5, 0.5] and config.data_dir == "d"
    assert config.batch_size == TrainConfig().batch_size  # dataclass default
    assert config.run_name == "exp"  # config file stem
    assert not args.resume


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epoch: 3\n")
    with pytest.raises(ValueError, match="unknown key"):
        load_config(path)
    path.write_text("model: audio\n")
    with pytest.raises(ValueError, match="model must be"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_resolved_config_round_trips(tmp_path):
    config = TrainConfig(model="text", backbone="x", mean=None, run_name="r", data_dir="d")
    save_config(config, tmp_path / "c.yaml")
    assert TrainConfig.from_dict(yaml.safe_load((tmp_path / "c.yaml").read_text())) == config
    assert config.fold_dir() == (tmp_path / "weights" / "r" / "fold0").relative_to(tmp_path)
