"""Fixtures for system tests: they drive the real trackway binary.

ctest runs these as `/usr/bin/python3 -m pytest tests/system` with
TRACKWAY_BIN set to the binary of its build tree (release or asan). Run by
hand, they fall back to build/release/trackway.

Fixtures:
    trackway_bin    path to the binary (skips when none is built)
    run_trackway    run_trackway(*args, check=True, timeout=60, ...) runs it
                    and returns a subprocess.CompletedProcess with text output
    tmp_log_dir     an empty directory, private to one test, for a log

Tests marked @pytest.mark.long run only when TW_TEST_LONG=1
(`TEST_MODE=long make test`).

Only the standard library and Debian's python3-pytest are used.
"""

import os
import pathlib
import subprocess

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "release" / "trackway"
LONG_MODE = os.environ.get("TW_TEST_LONG") == "1"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "long: runs only with TW_TEST_LONG=1 (TEST_MODE=long)"
    )


def pytest_collection_modifyitems(config, items):
    if LONG_MODE:
        return
    skip_long = pytest.mark.skip(
        reason="long test; run TEST_MODE=long make test"
    )
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip_long)


@pytest.fixture(scope="session")
def trackway_bin():
    """The trackway binary under test, as an absolute path."""
    configured = os.environ.get("TRACKWAY_BIN")
    if configured:
        path = pathlib.Path(configured)
        # ctest always names a binary it built; if that one is missing the
        # tree is broken, which must fail, not pass quietly as a skip.
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"TRACKWAY_BIN={configured} is not an executable file")
        return path.resolve()

    if not (DEFAULT_BIN.is_file() and os.access(DEFAULT_BIN, os.X_OK)):
        pytest.skip(
            f"no trackway binary: {DEFAULT_BIN} is not built "
            "(run `make build`, or set TRACKWAY_BIN)"
        )
    return DEFAULT_BIN


@pytest.fixture
def run_trackway(trackway_bin):
    """Returns a function that runs trackway with the given arguments.

    check=True fails the test when the exit status is not 0, showing the
    command, its status and both output streams. timeout is in seconds.
    """

    def run(*args, check=True, timeout=60, input=None, env=None, cwd=None):
        cmd = [str(trackway_bin), *(str(a) for a in args)]
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            result = subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=full_env,
                cwd=cwd,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{' '.join(cmd)} still running after {timeout}s")
        if check and result.returncode != 0:
            pytest.fail(
                f"{' '.join(cmd)} exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}"
                f"--- stderr ---\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def tmp_log_dir(tmp_path):
    """An existing, empty directory for one test's log."""
    path = tmp_path / "log"
    path.mkdir()
    return path
