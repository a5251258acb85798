"""`tisser worker`: the dramatiq command line it runs, and what it sets for it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from workers.management.commands.worker import PREFETCH_VARIABLE, RENDER_PROCESS_VARIABLE


class Execed(Exception):
    pass


@pytest.fixture
def execv(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Stop at the exec (it would replace the test process) and keep its argv."""
    calls: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append(argv)
        raise Execed

    monkeypatch.setattr(os, "execv", fake_execv)
    monkeypatch.setattr("workers.management.commands.worker.embedded", lambda: False)
    # Set then removed, so that monkeypatch puts the environment back as it was after
    # the test, whatever the command sets.
    for variable in (PREFETCH_VARIABLE, RENDER_PROCESS_VARIABLE):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    return calls


@pytest.mark.parametrize(
    ("args", "prefetch"),
    [
        (["--threads", "1", "-Q", "slips"], "4"),  # a slip worker keeps the next slip ready
        (["--threads", "4"], "8"),  # dramatiq's own default beyond that
        (["--threads", "1", "--prefetch", "3"], "3"),
    ],
)
def test_messages_held_ahead_of_the_threads(
    execv: list[list[str]], args: list[str], prefetch: str
) -> None:
    with pytest.raises(Execed):
        call_command("worker", "--processes", "2", *args)
    [argv] = execv
    assert argv[:5] == ["dramatiq", "--processes", "2", "--threads", args[1]]
    assert os.environ[PREFETCH_VARIABLE] == prefetch


def test_prefetch_must_be_positive(execv: list[list[str]]) -> None:
    with pytest.raises(CommandError, match="--prefetch"):
        call_command("worker", "--threads", "1", "--prefetch", "0")
    assert not execv


def test_an_operators_setting_wins(execv: list[list[str]], monkeypatch: Any) -> None:
    monkeypatch.setenv(PREFETCH_VARIABLE, "16")
    with pytest.raises(Execed):
        call_command("worker", "--threads", "1")
    assert os.environ[PREFETCH_VARIABLE] == "16"


def test_slips_render_in_a_child_process_unless_the_operator_says_otherwise(
    execv: list[list[str]], monkeypatch: Any
) -> None:
    with pytest.raises(Execed):
        call_command("worker", "--threads", "2", "-Q", "slips")
    assert os.environ[RENDER_PROCESS_VARIABLE] == "true"

    monkeypatch.setenv(RENDER_PROCESS_VARIABLE, "false")
    with pytest.raises(Execed):
        call_command("worker", "--threads", "1", "-Q", "slips")
    assert os.environ[RENDER_PROCESS_VARIABLE] == "false"
