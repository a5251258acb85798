"""The slip renderer in a process of its own, beside a slip worker (`tisser worker`).

A slip job reads the referral and builds the HTML, renders the PDF, then stores it with
its event. The render is most of the time and holds the GIL; the rest is Django and
database round trips. In one thread they follow each other, and the renderer waits
while each slip is read and stored: about 12 ms in every 90 on the reference machine
(docs/benchmarks.md, the pipeline benchmark). With the renderer in a child process, a
worker's second thread reads the next slip and stores the last one while the child
renders, so the child renders back to back.

It also keeps the worker safe from the renderer. A render that hangs is killed at its
timeout: dramatiq's time limit cannot interrupt code running inside Pango. A crash in
Pango or HarfBuzz ends the child, not the worker and the messages it holds. The next
render starts a new child.

The child is a new interpreter (`python -m slips.render_process`), not a fork of a
process that has threads and open connections, nor multiprocessing's `spawn`, which
runs the parent's main script again. It sets Django up, warms its renderer as a worker
does, and renders what it is sent over a socket pair, one document at a time. The
kernel ends it when the worker process ends, even mid-render. This module imports nothing from
Django at the top: the child imports it before Django is set up.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

# Longer than any slip takes, and shorter than the slip actor's time limit (120 s), so
# that the child is stopped here first.
RENDER_TIMEOUT_SECONDS = 90.0
# Setting Django up and warming the renderer: about a second.
START_TIMEOUT_SECONDS = 120.0
# How often a waiting thread wakes up. dramatiq's time limit and shutdown can interrupt a
# thread only between two Python instructions, never inside a blocking wait.
_POLL_SECONDS = 0.25


class RenderProcessError(RuntimeError):
    """The render process did not render this document: it died, it took too long, or
    the renderer raised."""


class ChildEnded(RenderProcessError):
    """The child ended before it answered."""


class RenderProcess:
    """One child process that renders slips, one at a time, for the threads of the process
    that owns it. Started on first use, and again after it died or was stopped.

    Each document goes with a number that the child sends back with its PDF. A child
    is trusted with a new document only after it answered the last one: a wait that
    ended any other way leaves it `busy`, and the next caller replaces it. So a
    document that nobody collected can never be taken for another person's slip."""

    def __init__(self, *, timeout: float = RENDER_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self.sent = 0  # documents sent to a child, retries included
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._busy = False

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the child and wait until its renderer is warm."""
        with self._locked():
            self._ensure_started()

    def stop(self) -> None:
        with self._locked():
            self._discard()

    def render(self, html: str) -> tuple[bytes, float]:
        """The PDF of `html`, and the milliseconds the child spent rendering it.

        A child found dead is replaced. A child that dies while this document is sent or
        drawn may have died before it (killed between two slips, say): the document goes
        once more to a new child, and only a second death fails it. A timeout or an
        error of the renderer fails it at once."""
        with self._locked():
            try:
                answer = self._exchange(html)
            except ChildEnded:
                logger.warning("slip render process ended mid-render; trying a new one")
                answer = self._exchange(html)
        if answer[0] == "pdf":
            return answer[2], answer[3]
        raise RenderProcessError(f"the renderer failed: {answer[2]}")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Acquired in short waits: dramatiq's time limit can stop a thread only between
        # two Python instructions, and a thread queued behind a long render must stay
        # stoppable.
        while not self._lock.acquire(timeout=_POLL_SECONDS):
            pass
        try:
            yield
        finally:
            self._lock.release()

    def _exchange(self, html: str) -> Any:
        conn, process = self._ensure_started()
        self.sent += 1
        number = self.sent
        self._busy = True
        try:
            conn.send((number, html))
            answer = _receive(conn, process, self.timeout)
        except OSError as error:  # the socket was reset or broken: the child is gone
            self._discard()
            raise ChildEnded(f"the render process ended ({error})") from None
        except BaseException:
            # Whatever ended the wait (the timeout, the child's death, dramatiq's time
            # limit, a shutdown), the child may still be drawing a document that nobody
            # will collect. It goes; the next render starts a new one.
            self._discard()
            raise
        if answer[0] not in ("pdf", "error") or answer[1] != number:
            self._discard()
            raise RenderProcessError(f"the render process answered out of turn: {answer[:2]}")
        self._busy = False
        return answer

    def _ensure_started(self) -> tuple[Connection, subprocess.Popen[bytes]]:
        conn, process = self._conn, self._process
        if conn is not None and process is not None and not self._busy and process.poll() is None:
            return conn, process
        self._discard()
        ours, theirs = socket.socketpair()
        try:
            child = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
                [
                    sys.executable,
                    "-m",
                    "slips.render_process",
                    str(theirs.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            self._discard()
            raise
        finally:
            theirs.close()  # the child has its own copy; this one must not keep it open
        parent = Connection(ours.detach())
        # Busy until it says it is ready: a wait for that which ends any other way leaves
        # a child that the next caller replaces.
        self._process, self._conn, self._busy = child, parent, True
        try:
            answer = _receive(parent, child, START_TIMEOUT_SECONDS)
        except BaseException:
            self._discard()
            raise
        if answer[0] != "ready":
            self._discard()
            raise RenderProcessError(f"the render process did not start: {answer[1]}")
        self._busy = False
        logger.info("slip render process %s ready", child.pid)
        return parent, child

    def _discard(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._busy = False
        if conn is not None:
            conn.close()
        if process is not None:
            if process.poll() is None:
                process.kill()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.warning("slip render process %s did not end when killed", process.pid)


def _receive(conn: Connection, process: subprocess.Popen[bytes], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    # A child that dies closes its end of the socket: poll() returns, recv() says EOF.
    while not conn.poll(_POLL_SECONDS):
        if time.monotonic() > deadline:
            logger.warning("slip render process %s: no answer in %g s", process.pid, timeout)
            raise RenderProcessError(f"no answer from the render process in {timeout:g} s")
    try:
        return conn.recv()
    except EOFError:
        try:
            code: int | None = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        raise ChildEnded(f"the render process ended (exit code {code})") from None


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent ends, even mid-render (Linux).
    Elsewhere the child notices when it next reads from the socket."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request was made
        os._exit(1)


def child_main(conn: Connection, parent: int) -> None:
    """The child: set Django up, warm the renderer, then render until the parent goes."""
    _die_with(parent)
    # A terminal's Ctrl-C, or a service manager's SIGTERM to the whole group, asks the
    # worker to finish the slips in hand and stop: this process must live to render
    # them. It ends with the worker (above), or when the worker kills it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from slips.renderer import slip_renderer, worker_warm_up

        worker_warm_up()
        renderer = slip_renderer()
    except Exception as error:
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        raise
    conn.send(("ready", os.getpid()))
    while True:
        try:
            number, html = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        started = time.perf_counter()
        try:
            pdf = renderer.render(html)
        except Exception as error:
            logger.exception("slip render failed")
            conn.send(("error", number, f"{type(error).__name__}: {error}"))
        else:
            conn.send(("pdf", number, pdf, (time.perf_counter() - started) * 1000))


# PR_SET_PDEATHSIG, from <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1

if __name__ == "__main__":
    child_main(Connection(int(sys.argv[1])), parent=int(sys.argv[2]))
