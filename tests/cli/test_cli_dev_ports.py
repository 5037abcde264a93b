"""The pieces `proctor dev` uses to own its port and its server: `reserve_port` (a port in use
names its holder, found through psutil or Linux's /proc) and `die_with_parent`'s checks. The
processes themselves are exercised in tests/faults/test_dev_processes.py."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from proctor.cli import lifeline, ports


@pytest.fixture
def held_port():
    """A port this test process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_free_port_is_reserved_listening():
    sock = ports.reserve_port("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # accepted into the backlog: listening, not only bound
    finally:
        sock.close()


def test_a_port_in_use_names_the_process_that_holds_it(held_port):
    with pytest.raises(ports.PortInUse) as caught:
        ports.reserve_port("127.0.0.1", held_port)
    error = caught.value
    assert error.holder is not None and error.holder.pid == os.getpid()
    text = str(error)
    assert f"port {held_port} on 127.0.0.1 is already in use by process {os.getpid()} (" in text
    assert f"kill {os.getpid()}" in text and "--port " in text and "make run PORT=" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_without_psutil_the_holder_is_found_in_proc(held_port):
    holder = ports._holder_from_proc(held_port)
    assert holder is not None and holder.pid == os.getpid()
    assert "python" in holder.command.lower() or "pytest" in holder.command


def test_an_unknown_holder_is_said_so_with_how_to_look():
    text = str(ports.PortInUse("127.0.0.1", 4200, None))
    assert "a process this user cannot see" in text and "ss -ltnp" in text


def test_a_long_command_line_is_one_line_and_cut():
    shown = ports.PortHolder(7, "python -c \n" + "x" * 500).describe()
    assert "\n" not in shown and len(shown) < 230 and shown.endswith("...)")


def test_a_parent_that_is_not_ours_is_refused():
    with pytest.raises(lifeline.ParentGone, match="has ended"):
        lifeline.die_with_parent(os.getpid())  # we are not our own parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_parent_death_signal_is_available_on_linux():
    assert lifeline.set_parent_death_signal(0)  # 0 clears it again: nothing left set
