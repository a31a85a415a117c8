"""Every config field the help texts, README and docs mention exists in the configs.

``python -m harlow.sweep --help`` once suggested ``--config.train.lr``, a field no config
has (it is ``train.learning_rate``). These tests read each command's module docstring and
flag help (what ``--help`` prints), the configs' docstrings, README.md's commands and text,
the docs, and every string in the package (error messages name fields too), and look
each ``config.X`` / ``--config.X`` up in the config it would apply to.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import ml_collections
import pytest

from harlow.config.files import load_config_file

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.py"))
# The files of each command line: its module docstring and flag help are its --help.
COMMANDS = {
    "harlow.train": ["harlow/train.py"],
    "harlow.evaluate": ["harlow/evaluate.py"],
    "harlow.sweep": ["harlow/sweep.py"],
    "harlow.benchmark": [
        "harlow/benchmark.py",
        *(str(p.relative_to(REPO)) for p in sorted((REPO / "harlow/benchmarks").glob("*.py"))),
    ],
    "harlow.datasets": ["harlow/datasets/__main__.py", "harlow/datasets/__init__.py"],
}
# ``config.X`` or ``--config.X`` (X dotted); not ``configs.``, ``my_config.``, ``a/config.``.
MENTION = re.compile(r"(?<![\w./-])(?:--)?config\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
# Not fields: the saved config's file name, and the placeholders of usage messages.
NOT_FIELDS = {"json", "a.b", "KEY"}


@cache
def config_of(path: Path) -> ml_collections.ConfigDict:
    return load_config_file(str(path))


def has_field(config: ml_collections.ConfigDict, field: str) -> bool:
    """Whether ``config`` has the (dotted) field: a value or a group of fields."""
    node = config
    for part in field.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            return False
        node = node[part]
    return True


def mentions(text: str) -> list[str]:
    """The config fields ``text`` mentions, without placeholders."""
    return [m.group(1) for m in MENTION.finditer(text) if m.group(1) not in NOT_FIELDS]


def missing_in_any_config(text: str) -> list[str]:
    """The fields ``text`` mentions that no config has."""
    configs = [config_of(path) for path in CONFIGS]
    return [f for f in mentions(text) if not any(has_field(c, f) for c in configs)]


def strings_of(path: Path) -> str:
    """Every string literal in a Python file (docstrings and flag help included), one per
    line; f-strings give their literal parts."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return "\n".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_the_checker_catches_the_old_sweep_example():
    assert mentions("[--config.train.lr=...] default: config.eval.episodes.") == [
        "train.lr",
        "eval.episodes",
    ]
    assert missing_in_any_config("[--config.train.lr=...]") == ["train.lr"]
    assert missing_in_any_config("--config.train.learning_rate=1e-3 --config.env") == []
    assert mentions("configs/harlow.py, config.json, --config.a.b=VALUE, my_config.x") == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_and_docstring_name_existing_fields(command):
    text = "\n".join(strings_of(REPO / file) for file in COMMANDS[command])
    assert missing_in_any_config(text) == [], f"python -m {command} --help"


@pytest.mark.parametrize(
    ("command", "first_words"),
    [
        ("harlow.sweep", "Command line: train several seeds"),
        ("harlow.benchmark", "Command line of the benchmarks"),
    ],
)
def test_what_help_prints_is_what_is_checked(command, first_words):
    """``--help`` prints the module docstring and the flags' help (these two commands
    print it without loading TensorFlow)."""
    result = subprocess.run(
        [sys.executable, "-m", command, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr  # absl's --help exits with status 1
    assert result.stdout.startswith(first_words)
    checked = "\n".join(strings_of(REPO / file) for file in COMMANDS[command])
    assert set(mentions(result.stdout)) <= set(mentions(checked))
    assert missing_in_any_config(result.stdout) == []


def test_the_sweep_example_uses_the_learning_rate_field():
    assert "[--config.train.learning_rate=" in strings_of(REPO / "harlow/sweep.py")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_docstrings_name_their_own_fields(path):
    config = config_of(path)
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert [f for f in mentions(docstring) if not has_field(config, f)] == []


def readme_commands(text: str) -> list[list[str]]:
    """The ``python -m harlow.*`` command lines of the README's code blocks, as words."""
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in re.sub(r"\\\n", " ", block).splitlines():
            line = line.split("#")[0]  # comments after a command
            if "python -m harlow." in line:
                words = shlex.split(line.replace("[", " ").replace("]", " "))
                commands.append(words)
    return commands


def _flag(words: list[str], name: str) -> str | None:
    return next((w.split("=", 1)[1] for w in words if w.startswith(f"--{name}=")), None)


def test_readme_commands_override_fields_of_their_config():
    text = (REPO / "README.md").read_text()
    commands = readme_commands(text)
    assert any("--config.train.learning_rate=1e-3" in words for words in commands)
    # Where the README trains a workdir, later commands on it use that config.
    trained_with = {
        _flag(words, "workdir"): _flag(words, "config")
        for words in commands
        if _flag(words, "config") and _flag(words, "workdir")
    }
    problems = []
    for words in commands:
        config_file = _flag(words, "config") or trained_with.get(_flag(words, "workdir"))
        for word in words:
            for field in mentions(word) if word.startswith("--config.") else []:
                if config_file:
                    ok = has_field(config_of(REPO / config_file), field)
                else:
                    ok = not missing_in_any_config(word)
                if not ok:
                    problems.append(f"{' '.join(words[:3])}: {word} ({config_file or 'any'})")
    assert problems == []


@pytest.mark.parametrize(
    "path",
    [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_documents_name_existing_fields(path):
    assert missing_in_any_config(path.read_text()) == []


def test_messages_of_the_package_name_existing_fields():
    problems = {
        str(path.relative_to(REPO)): missing
        for path in sorted((REPO / "harlow").rglob("*.py"))
        if (missing := missing_in_any_config(strings_of(path)))
    }
    assert problems == {}
