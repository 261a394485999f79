"""Failpoints: a test can make a worker die at a named step, exactly like ``kill -9``."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from bot.ops import failpoints
from bot.settings import SettingsError, load_settings


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_an_armed_point_kills_the_process_and_an_unarmed_one_does_nothing():
    armed = "from bot.ops import failpoints as f; f.arm('form-saved'); "
    died = run(armed + "f.hit('form-saved'); print('alive')")
    assert died.returncode == -signal.SIGKILL and "alive" not in died.stdout
    lived = run(armed + "f.hit('answer-posted'); print('alive')")
    assert lived.returncode == 0 and lived.stdout.strip() == "alive"


def test_unknown_points_are_refused_in_code_and_in_settings():
    with pytest.raises(ValueError, match="unknown failpoint"):
        failpoints.arm("everywhere")
    with pytest.raises(SettingsError, match="FAILPOINTS"):
        load_settings({"FAILPOINTS": "form-saved,everywhere"}, env_file=None)
    assert load_settings({"FAILPOINTS": "form-saved"}, env_file=None).failpoints == "form-saved"
    assert load_settings({}, env_file=None).failpoints == ""
