"""Signal handlers only set flags; the wake-up pipe makes select() return."""

import os
import select
import signal

import pytest

from carpswitch.intake.signals import SignalFlags


@pytest.fixture
def flags():
    flags = SignalFlags()
    flags.install()
    yield flags
    flags.uninstall()


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_ask_to_stop(flags, number):
    os.kill(os.getpid(), number)
    assert flags.stop
    assert not flags.reload


def test_sighup_asks_for_one_reload(flags):
    os.kill(os.getpid(), signal.SIGHUP)
    assert flags.take_reload()
    assert not flags.take_reload()
    assert not flags.stop


def test_a_signal_wakes_a_select_on_the_pipe(flags):
    os.kill(os.getpid(), signal.SIGHUP)
    ready, _w, _x = select.select([flags.wakeup_read], [], [], 5)
    assert ready == [flags.wakeup_read]
    flags.drain()
    assert select.select([flags.wakeup_read], [], [], 0)[0] == []


def test_requests_from_code_behave_like_signals(flags):
    flags.request_reload()
    assert select.select([flags.wakeup_read], [], [], 5)[0] == [flags.wakeup_read]
    flags.request_stop()
    assert flags.stop
    assert flags.take_reload()


def test_uninstall_restores_the_previous_handlers():
    before = signal.getsignal(signal.SIGINT)
    flags = SignalFlags()
    flags.install()
    assert signal.getsignal(signal.SIGINT) != before
    flags.uninstall()
    assert signal.getsignal(signal.SIGINT) == before
