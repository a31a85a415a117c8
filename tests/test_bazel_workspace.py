"""Checks of the Bazel workspace (WORKSPACE, BUILD files, .bazelignore).

The workspace lets a Bazel-built DeepMind Lab checkout depend on this project
through `local_repository(name = "harlow", ...)`.

Two kinds of tests:

* Parse-level tests always run. They evaluate the WORKSPACE and BUILD files as
  Python (Starlark is a subset of it for these files), with stand-ins for the
  Bazel functions, and check that every `.py` file under harlow/ and
  preprocessing/ is picked up by a glob of a `py_library`.
* Bazel tests (marked slow) run when `bazel` is on PATH (Debian's
  `bazel-bootstrap`, Bazel 4.2.3, is what CI installs). They run Bazel on a
  copy of the workspace in pytest's temporary directory, so that no `bazel-*`
  symlink lands in the source tree, with an `--output_user_root` there too,
  downloads disabled, and the server shut down at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_NAMES = ("BUILD", "BUILD.bazel")
PY_PACKAGES = ("harlow", "preprocessing")
DATA_DIRS = ("configs", "datasets")
FILEGROUPS = {"configs": "configs/*.py", "datasets": "datasets/**"}
BAZEL_TIMEOUT_S = 600
PUBLIC = "//visibility:public"

# The files that make up the Bazel workspace; the Bazel tests copy only these.
WORKSPACE_FILES = ("WORKSPACE", "BUILD", ".bazelignore")
WORKSPACE_DIRS = PY_PACKAGES + DATA_DIRS


# --------------------------------------------------------------------------
# Parse-level helpers
# --------------------------------------------------------------------------


def _is_package_dir(directory: Path) -> bool:
    return any((directory / name).is_file() for name in BUILD_NAMES)


def _owning_package(path: Path, root: Path) -> Path:
    """The directory of the Bazel package that owns `path` (as Bazel sees it)."""
    directory = path.parent
    while directory != root and not _is_package_dir(directory):
        directory = directory.parent
    return directory


def _bazel_glob(package_dir: Path, root: Path, include, exclude=()) -> list[str]:
    """Bazel's glob() for files: no directories, no files of subpackages."""

    def expand(pattern: str) -> set[Path]:
        # pathlib's trailing `**` matches directories only; Bazel's matches files.
        if pattern == "**" or pattern.endswith("/**"):
            pattern += "/*"
        return {path for path in package_dir.glob(pattern) if path.is_file()}

    matched = set().union(*(expand(p) for p in include)) if include else set()
    for pattern in exclude:
        matched -= expand(pattern)
    return sorted(
        path.relative_to(package_dir).as_posix()
        for path in matched
        if _owning_package(path, root) == package_dir
    )


def _evaluate_build_file(package_dir: Path, root: Path = REPO_ROOT) -> dict[str, dict]:
    """Runs a BUILD file with stand-ins for Bazel's functions; returns its targets."""
    targets: dict[str, dict] = {}
    package_args: dict = {}

    def glob(include, exclude=(), exclude_directories=1, allow_empty=True):
        assert exclude_directories == 1, "only file globs are emulated"
        files = _bazel_glob(package_dir, root, include, exclude)
        assert files or allow_empty, f"empty glob {include} in {package_dir}"
        return files

    def rule(kind):
        def define(name, **attrs):
            assert name not in targets, f"duplicate target {name} in {package_dir}"
            targets[name] = {"kind": kind, **attrs}

        return define

    def package(**attrs):
        package_args.update(attrs)

    build_file = next(package_dir / n for n in BUILD_NAMES if (package_dir / n).is_file())
    namespace = {
        "__builtins__": {},
        "glob": glob,
        "package": package,
        "licenses": lambda _licenses: None,
        "filegroup": rule("filegroup"),
        "py_library": rule("py_library"),
    }
    exec(compile(build_file.read_text(), str(build_file), "exec"), namespace)
    for attrs in targets.values():
        attrs.setdefault("visibility", package_args.get("default_visibility", []))
    return targets


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


# --------------------------------------------------------------------------
# Parse-level tests (always run)
# --------------------------------------------------------------------------


def test_workspace_names_harlow_and_fetches_nothing():
    workspace = REPO_ROOT / "WORKSPACE"
    assert workspace.is_file()
    calls: list[tuple[str, dict]] = []
    # Only workspace() is defined: http_archive, git_repository, load(), ...
    # would raise NameError, since the build must not need any download.
    namespace = {
        "__builtins__": {},
        "workspace": lambda **kwargs: calls.append(("workspace", kwargs)),
    }
    exec(compile(workspace.read_text(), str(workspace), "exec"), namespace)
    assert calls == [("workspace", {"name": "harlow"})]
    code = _strip_comments(workspace.read_text())
    for word in ("http_archive", "git_repository", "load("):
        assert word not in code


def test_workspace_explains_local_repository_use():
    text = (REPO_ROOT / "WORKSPACE").read_text()
    assert "local_repository(" in text
    assert 'name = "harlow"' in text
    assert "@harlow//harlow" in text


def test_build_files_exist():
    assert (REPO_ROOT / "BUILD").is_file()
    for package in PY_PACKAGES:
        assert (REPO_ROOT / package / "BUILD").is_file(), package


def test_no_build_file_shadows_another():
    # BUILD.bazel takes precedence over BUILD when both are present.
    for directory in (REPO_ROOT, *(REPO_ROOT / d for d in WORKSPACE_DIRS)):
        assert not (directory / "BUILD.bazel").exists(), directory


@pytest.mark.parametrize("top", WORKSPACE_DIRS)
def test_no_nested_build_files(top):
    # A BUILD file in a subfolder makes it a package of its own, which cuts
    # its files out of the globs of the package above.
    top_dir = REPO_ROOT / top
    if not top_dir.is_dir():
        pytest.skip(f"{top}/ does not exist")
    nested = sorted(
        path.relative_to(REPO_ROOT).as_posix()
        for name in BUILD_NAMES
        for path in top_dir.rglob(name)
        if path.parent != top_dir
    )
    assert nested == []


@pytest.mark.parametrize("package", PY_PACKAGES)
def test_py_library_covers_every_py_file(package):
    package_dir = REPO_ROOT / package
    targets = _evaluate_build_file(package_dir)
    assert set(targets) == {package}
    library = targets[package]
    assert library["kind"] == "py_library"
    assert library["imports"] == [".."]
    assert PUBLIC in library["visibility"]
    on_disk = sorted(
        path.relative_to(package_dir).as_posix()
        for path in package_dir.rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert library["srcs"] == on_disk
    for path in package_dir.rglob("*.py"):
        assert _owning_package(path, REPO_ROOT) == package_dir, path


def test_root_filegroups_cover_configs_and_datasets():
    targets = _evaluate_build_file(REPO_ROOT)
    assert set(FILEGROUPS) <= set(targets)
    for name, pattern in FILEGROUPS.items():
        group = targets[name]
        assert group["kind"] == "filegroup"
        assert PUBLIC in group["visibility"]
        top = pattern.split("/", 1)[0]
        on_disk = (
            sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / top).rglob("*"))
            if (REPO_ROOT / top).is_dir()
            else []
        )
        if name == "configs":
            on_disk = [p for p in on_disk if p.count("/") == 1 and p.endswith(".py")]
        else:
            on_disk = [p for p in on_disk if (REPO_ROOT / p).is_file()]
        assert group["srcs"] == on_disk


def test_bazelignore_keeps_bazel_out_of_the_virtualenv():
    # TensorFlow's wheel ships BUILD files whose load() of @rules_cc would make
    # `bazel query //...` try to download rules_cc.
    ignored = _strip_comments((REPO_ROOT / ".bazelignore").read_text()).split()
    assert ".venv" in ignored


def test_gitignore_ignores_bazel_symlinks():
    assert "bazel-*" in (REPO_ROOT / ".gitignore").read_text().split()


def test_bazel_glob_emulation_skips_subpackages(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "other").mkdir()
    for rel in ("pkg/BUILD", "pkg/a.py", "pkg/sub/BUILD", "pkg/sub/b.py", "pkg/other/c.py"):
        (tmp_path / rel).write_text("")
    assert _bazel_glob(tmp_path / "pkg", tmp_path, ["**/*.py"]) == ["a.py", "other/c.py"]
    assert _bazel_glob(tmp_path / "pkg", tmp_path, ["**"]) == ["BUILD", "a.py", "other/c.py"]


# --------------------------------------------------------------------------
# Bazel tests (when bazel is on PATH)
# --------------------------------------------------------------------------


class _Bazel:
    """Runs Bazel with a private output root; shuts its servers down on close."""

    def __init__(self, executable: str, output_user_root: Path):
        self.executable = executable
        self.output_user_root = output_user_root
        self._workspaces: list[Path] = []

    def _command(self, *args: str) -> list[str]:
        return [
            self.executable,
            "--nohome_rc",
            f"--output_user_root={self.output_user_root}",
            # The server goes away on its own should shutdown() never run.
            "--max_idle_secs=300",
            *args,
        ]

    def run(self, workspace: Path, command: str, *args: str) -> subprocess.CompletedProcess:
        if workspace not in self._workspaces:
            self._workspaces.append(workspace)
        cmd = self._command(
            command,
            "--experimental_repository_disable_download",
            "--curses=no",
            "--color=no",
            *args,
        )
        start = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=BAZEL_TIMEOUT_S,
            check=False,
        )
        elapsed = time.monotonic() - start
        print(f"{' '.join(cmd[4:])}: {elapsed:.1f} s, exit {proc.returncode}")
        if proc.returncode != 0:
            pytest.fail(
                f"`bazel {' '.join(cmd[4:])}` exited {proc.returncode} in {workspace}\n"
                f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
            )
        return proc

    def close(self) -> None:
        for workspace in self._workspaces:
            subprocess.run(
                self._command("shutdown"),
                cwd=workspace,
                capture_output=True,
                timeout=120,
                check=False,
            )
        # Bazel leaves read-only directories behind; make them deletable.
        for dirpath, _dirnames, _filenames in os.walk(self.output_user_root):
            if not os.path.islink(dirpath):
                os.chmod(dirpath, 0o755)
        shutil.rmtree(self.output_user_root, ignore_errors=True)


@pytest.fixture(scope="module")
def bazel(tmp_path_factory) -> Iterator[_Bazel]:
    executable = shutil.which("bazel")
    if executable is None:
        pytest.skip(
            "bazel not on PATH: install it (e.g. `apt-get install bazel-bootstrap`) "
            "to build the Bazel targets"
        )
    runner = _Bazel(executable, tmp_path_factory.mktemp("bazel_output_user_root"))
    try:
        yield runner
    finally:
        runner.close()


def _copy_workspace(destination: Path) -> Path:
    """Copies the Bazel workspace (not .venv, runs/, ...) to `destination`."""
    destination.mkdir(parents=True)
    for name in WORKSPACE_FILES:
        shutil.copy2(REPO_ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "bazel-*")
    for name in WORKSPACE_DIRS:
        source = REPO_ROOT / name
        if not source.is_dir():
            (destination / name).mkdir()
            continue
        # Data sets may be large: link their files instead of copying them.
        copy = os.symlink if name == "datasets" else shutil.copy2
        shutil.copytree(source, destination / name, ignore=ignore, copy_function=copy)
    return destination


@pytest.fixture(scope="module")
def workspace_copy(bazel, tmp_path_factory) -> Path:
    return _copy_workspace(tmp_path_factory.mktemp("bazel_ws") / "harlow")


@pytest.mark.slow
def test_bazel_query_lists_targets(bazel, workspace_copy):
    proc = bazel.run(workspace_copy, "query", "//...")
    labels = set(proc.stdout.split())
    expected = {
        "//harlow:harlow",
        "//preprocessing:preprocessing",
        *(f"//:{name}" for name in FILEGROUPS),
    }
    assert expected <= labels, proc.stdout


@pytest.mark.slow
def test_bazel_query_sees_every_py_file(bazel, workspace_copy):
    for package in PY_PACKAGES:
        proc = bazel.run(
            workspace_copy, "query", f"labels(srcs, //{package}:{package})", "--output=label"
        )
        labels = set(proc.stdout.split())
        package_dir = workspace_copy / package
        expected = {
            f"//{package}:{path.relative_to(package_dir).as_posix()}"
            for path in package_dir.rglob("*.py")
        }
        assert labels == expected


@pytest.mark.slow
def test_bazel_builds_py_libraries(bazel, workspace_copy):
    bazel.run(
        workspace_copy,
        "build",
        "//harlow:harlow",
        "//preprocessing:preprocessing",
        "//:configs",
        "//:datasets",
    )


# Bazel 4's @bazel_tools loads @rules_cc and @rules_java while it resolves the
# toolchains of a py_binary; Bazel would download both. A DeepMind Lab build
# has them; offline, these stand-ins forward to the native rules instead.
_STUB_RULES = {
    "rules_cc": (
        "cc",
        [
            "cc_binary",
            "cc_import",
            "cc_library",
            "cc_proto_library",
            "cc_test",
            "cc_toolchain",
            "cc_toolchain_suite",
            "fdo_prefetch_hints",
            "fdo_profile",
            "objc_import",
            "objc_library",
        ],
    ),
    "rules_java": (
        "java",
        [
            "java_binary",
            "java_import",
            "java_library",
            "java_lite_proto_library",
            "java_package_configuration",
            "java_plugin",
            "java_proto_library",
            "java_runtime",
            "java_test",
            "java_toolchain",
        ],
    ),
}

_CONSUMER_BUILD = """\
py_binary(
    name = "probe",
    srcs = ["python/probe.py"],
    main = "python/probe.py",
    data = ["@harlow//:configs", "@harlow//:datasets"],
    legacy_create_init = False,
    python_version = "PY3",
    deps = ["@harlow//harlow", "@harlow//preprocessing"],
)
"""

# find_spec() locates a top-level package without running its __init__.py,
# so the probe needs none of harlow's third-party dependencies.
_PROBE = """\
import importlib.util
import json
import os
import sys


def describe(name):
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    return {"origin": spec.origin, "locations": list(spec.submodule_search_locations or [])}


runfiles = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
found = {name: describe(name) for name in ("harlow", "preprocessing")}
json.dump(dict(found, runfiles=runfiles), sys.stdout)
"""


def _write_stub_rules(root: Path) -> list[str]:
    overrides = []
    for repo, (package, rules) in _STUB_RULES.items():
        repo_dir = root / repo
        (repo_dir / package).mkdir(parents=True)
        (repo_dir / "WORKSPACE").write_text(f'workspace(name = "{repo}")\n')
        (repo_dir / "BUILD").write_text("")
        (repo_dir / package / "BUILD").write_text("")
        (repo_dir / package / "defs.bzl").write_text(
            "".join(f"def {rule}(**kwargs):\n    native.{rule}(**kwargs)\n\n" for rule in rules)
        )
        overrides.append(f"--override_repository={repo}={repo_dir}")
    return overrides


@pytest.mark.slow
def test_deepmind_lab_style_workspace_depends_on_harlow(bazel, workspace_copy, tmp_path_factory):
    """A py_binary in another workspace finds harlow through local_repository."""
    root = tmp_path_factory.mktemp("bazel_consumer")
    overrides = _write_stub_rules(root / "stubs")
    consumer = root / "lab"
    (consumer / "python").mkdir(parents=True)
    (consumer / "WORKSPACE").write_text(
        'workspace(name = "org_deepmind_lab")\n\n'
        f'local_repository(name = "harlow", path = "{workspace_copy}")\n'
    )
    (consumer / "BUILD").write_text(_CONSUMER_BUILD)
    (consumer / "python" / "probe.py").write_text(_PROBE)

    bazel.run(consumer, "build", *overrides, "//:probe")
    proc = subprocess.run(
        # The launcher's `#!/usr/bin/env python` may find no `python` on PATH.
        [sys.executable, str(consumer / "bazel-bin" / "probe")],
        cwd=consumer,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    repo_runfiles = Path(found["runfiles"]) / "harlow"

    harlow = found["harlow"]
    assert harlow is not None
    assert str(repo_runfiles / "harlow") in harlow["locations"]
    # Not the empty package that legacy_create_init would put at the repo root.
    assert harlow["origin"] != str(repo_runfiles / "__init__.py")
    if (workspace_copy / "preprocessing" / "__init__.py").is_file():
        assert str(repo_runfiles / "preprocessing") in found["preprocessing"]["locations"]

    for top in (*PY_PACKAGES, "configs"):
        for path in (workspace_copy / top).rglob("*.py"):
            rel = path.relative_to(workspace_copy)
            assert (repo_runfiles / rel).is_file(), f"{rel} missing from the runfiles"
