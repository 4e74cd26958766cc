"""The command line: every command's --help, one parser for training, thin command modules."""

import ast
import subprocess
import sys

import pytest

from prodmatch.cli import COMMANDS, main
from tests.conftest import REPO_ROOT

COMMANDS_DIR = REPO_ROOT / "src" / "prodmatch" / "commands"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO_ROOT)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_every_option_is_explained(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: prodmatch {name}") and COMMANDS[name] in " ".join(text.split())
    import argparse
    import importlib

    parser = argparse.ArgumentParser()
    importlib.import_module(f"prodmatch.commands.{name}").add_arguments(parser)
    actions = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    for sub in parser._subparsers._group_actions if parser._subparsers else []:
        for subparser in sub.choices.values():
            actions += [a for a in subparser._actions if a.option_strings and a.dest != "help"]
    assert [a.option_strings for a in actions if not a.help] == []


def test_train_fold_and_prodmatch_train_share_one_parser(tmp_path):
    config = tmp_path / "exp.yaml"
    config.write_text("epochs: 7\nimage_size: 96\n")
    script = run("train_fold.py", "--config", str(config), "--help")
    module = run("-m", "prodmatch", "train", "--config", str(config), "--help")
    assert script.returncode == module.returncode == 0
    # the usage block wraps by the program name's length; everything after it must be the same
    assert script.stdout.split("\n\n", 1)[1] == module.stdout.split("\n\n", 1)[1]
    image_size_help = " ".join(script.stdout.split("--image-size IMAGE_SIZE", 2)[2].split()[:8])
    assert "(default: 96)" in image_size_help  # --help shows the YAML's value
    assert "--image-size" in script.stdout
    from prodmatch.commands.train import parse_args
    from prodmatch.train.config import build_train_parser

    args = parse_args(build_train_parser(), ["--config", str(config), "--epochs", "3"])
    assert args.train_config.epochs == 3 and args.train_config.image_size == 96  # flag beats YAML beats default


def test_make_submission_names_itself():
    done = run("make_submission.py", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: make_submission.py")


def test_unknown_command_and_no_command_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["nope"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main([])


def test_command_functions_stay_short():
    """Commands parse, call one function and print: no function but the argument declarations over 40 lines."""
    long = []
    for path in sorted(COMMANDS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name != "add_arguments":
                if node.end_lineno - node.lineno + 1 > 40:
                    long.append(f"{path.name}:{node.name}")
    assert long == []
