"""The slip renderer in a child process (`tisser worker`): it renders what the worker's
own renderer renders, and a child that dies, hangs or is abandoned mid-render never
hands a slip to the wrong job nor stops the next one.

The children are real processes, killed for real.
"""

from __future__ import annotations

import ctypes
import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from slips import renderer as module
from slips.content import sample_slips_html
from slips.render_process import RenderProcess, RenderProcessError
from tests.conftest import ApiClient, referral_body, wait_for_stage
from tests.faults.conftest import production_only

# Render processes are the production topology's (`tisser worker` with slips on processes
# of their own): their minutes of killed children run on the PostgreSQL pass, with the
# other faults, while the embedded pass runs the browser tests.
pytestmark = production_only


def text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def long_html(paragraphs: int = 20_000) -> str:
    """A document that takes the renderer seconds (20,000 paragraphs: hundreds of pages)."""
    body = "<p>Un atelier cuisine, le mardi.</p>" * paragraphs
    return f'<html lang="fr"><head><title>Long</title></head><body>{body}</body></html>'


@pytest.fixture
def renderer() -> Iterator[RenderProcess]:
    process = RenderProcess()
    yield process
    process.stop()


def render_in_thread(renderer: RenderProcess, html: str) -> tuple[threading.Thread, list[Any]]:
    """Render in another thread; what it returned or raised lands in the list."""
    outcome: list[Any] = []

    def render() -> None:
        try:
            outcome.append(renderer.render(html))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=render)
    thread.start()
    return thread, outcome


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def zombie(pid: int) -> bool:
    """Ended and not yet reaped: the state a killed child is in until its parent looks."""
    return state(pid) == "Z"


def drawing(pid: int) -> bool:
    """Running: a warm child idle between documents sleeps in its read, so a child seen
    running after a document went to it has that document in hand."""
    return state(pid) == "R"


def test_the_child_renders_what_the_worker_would(renderer: RenderProcess) -> None:
    html = sample_slips_html()[2]  # Arabic: its own face, right to left
    pdf, _ = renderer.render(html)
    assert renderer.pid not in (None, os.getpid())
    here = module.slip_renderer().render(html)
    assert text(pdf) == text(here)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == len(PdfReader(io.BytesIO(here)).pages)


def test_a_child_that_died_between_slips_is_replaced(renderer: RenderProcess) -> None:
    html = sample_slips_html()[0]
    renderer.start()
    first = renderer.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: zombie(first), "the child to end")
    pdf, _ = renderer.render(html)
    assert text(pdf) == text(module.slip_renderer().render(html))
    assert renderer.pid not in (None, first)
    assert renderer.sent == 1  # found dead before its document went: no retry


def test_a_child_killed_mid_render_hands_the_document_to_a_new_one(
    renderer: RenderProcess,
) -> None:
    html = long_html(2_000)
    expected = module.slip_renderer().render(html)
    renderer.start()
    first = renderer.pid
    assert first is not None
    thread, outcome = render_in_thread(renderer, html)
    wait_until(lambda: renderer.sent == 1, "the document to go")
    wait_until(lambda: drawing(first), "the child to draw it")  # a second or so
    os.kill(first, signal.SIGKILL)
    thread.join(timeout=120)
    [(pdf, _)] = outcome
    assert renderer.sent == 2
    assert text(pdf) == text(expected)


def test_a_document_whose_child_dies_twice_fails_and_the_next_one_renders(
    renderer: RenderProcess,
) -> None:
    """Killed mid-render, then killed again in the new child: that render fails, and
    only that one."""
    renderer.start()
    first = renderer.pid
    assert first is not None
    thread, outcome = render_in_thread(renderer, long_html())
    wait_until(lambda: renderer.sent == 1, "the document to go")
    wait_until(lambda: drawing(first), "the child to draw it")  # several seconds
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: renderer.sent == 2, "the document to go to a new child")
    second = renderer.pid
    assert second is not None
    assert second != first
    wait_until(lambda: drawing(second), "the new child to draw it")
    assert thread.is_alive()
    os.kill(second, signal.SIGKILL)
    thread.join(timeout=10)
    assert not thread.is_alive()
    [error] = outcome
    assert isinstance(error, RenderProcessError)
    assert "ended" in str(error)

    html = sample_slips_html()[1]
    pdf, _ = renderer.render(html)
    assert text(pdf) == text(module.slip_renderer().render(html))
    assert renderer.pid not in (first, second)


def test_a_render_that_takes_too_long_is_stopped(renderer: RenderProcess) -> None:
    renderer.start()
    pid = renderer.pid
    assert pid is not None
    renderer.timeout = 0.5
    started = time.monotonic()
    with pytest.raises(RenderProcessError, match="no answer"):
        renderer.render(long_html())
    assert time.monotonic() - started < 5
    assert not alive(pid)  # killed and reaped, not left drawing
    assert renderer.sent == 1  # not tried again

    renderer.timeout = 60
    html = sample_slips_html()[0]
    pdf, _ = renderer.render(html)
    assert text(pdf) == text(module.slip_renderer().render(html))


class TimeLimit(Exception):
    """What dramatiq's time limit raises inside a worker thread."""


def test_a_wait_interrupted_by_the_time_limit_never_hands_its_slip_to_the_next_job(
    renderer: RenderProcess,
) -> None:
    """dramatiq stops a job over its time limit by raising an exception in its thread
    (PyThreadState_SetAsyncExc, as here). The abandoned document must not come back as
    the answer to the next render."""
    renderer.start()
    pid = renderer.pid
    assert pid is not None
    thread, outcome = render_in_thread(renderer, long_html())
    wait_until(lambda: renderer.sent == 1, "the document to go")
    # The child has it in hand, so the thread is waiting for the answer.
    wait_until(lambda: drawing(pid), "the child to draw it")
    assert thread.ident is not None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(TimeLimit)
    )
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [type(error) for error in outcome] == [TimeLimit]
    assert not alive(pid)

    html = sample_slips_html()[2]
    pdf, _ = renderer.render(html)
    assert text(pdf) == text(module.slip_renderer().render(html))


def test_an_answer_out_of_turn_is_never_taken_for_the_slip(renderer: RenderProcess) -> None:
    """Were a document ever left in the child without its caller (the busy flag exists so
    that none is), its PDF would not be taken for the next document's."""
    renderer.start()
    assert renderer._conn is not None
    renderer._conn.send((0, sample_slips_html()[0]))  # a document nobody waits for
    with pytest.raises(RenderProcessError, match="out of turn"):
        renderer.render(sample_slips_html()[1])
    html = sample_slips_html()[2]
    pdf, _ = renderer.render(html)
    assert text(pdf) == text(module.slip_renderer().render(html))


@pytest.fixture
def separate_worker(settings: Any, broker: Any, media: Any) -> Iterator[Any]:
    """A real dramatiq worker set as `tisser worker` sets it: slips in a child process."""
    import dramatiq

    settings.TISSER_SLIP_RENDER_PROCESS = True
    saved = module._renderer
    module._renderer = None
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop(timeout=10_000)
    process = module._render_process
    module._render_process = None
    module._renderer = saved
    if process is not None:
        process.stop()


@pytest.mark.django_db(transaction=True)
def test_a_worker_set_to_render_in_a_child_prints_slips_there(
    separate_worker: Any, api: ApiClient, catalog: int
) -> None:
    """TISSER_SLIP_RENDER_PROCESS (set by `tisser worker`): the worker starts its child
    when it boots, renders every slip there, and never builds a renderer of its own."""
    process = module._render_process
    assert process is not None
    assert process.pid not in (None, os.getpid())
    response = api.post("/api/v1/referrals", referral_body(max_distance_km=10))
    assert response.status_code == 202, response.json()
    referral = wait_for_stage(response.json()["id"], "slip_ready")
    with referral.slip.file.open("rb") as file:
        assert referral.code in text(file.read())
    assert module._renderer is None  # the worker itself never rendered
