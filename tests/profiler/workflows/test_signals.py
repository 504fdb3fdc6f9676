"""`workflows.signals`: SIGINT/SIGTERM become a stop request; handlers are restored after."""

import os
import signal
import threading

import pytest

from profiler.workflows.signals import always, stop_on_signals


def test_a_signal_sets_the_event_and_says_which() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert not stop.signalled
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.event.wait(5)
        assert stop.signum == signal.SIGTERM and stop.signalled
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_given_event_is_the_one_set() -> None:
    event = threading.Event()
    with stop_on_signals(event) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert event.wait(5) and stop.event is event


def test_interrupt_raises_once_then_signals_only_set_the_event() -> None:
    with stop_on_signals(interrupt=always) as stop:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            threading.Event().wait(5)  # the handler raises here, on the main thread
        os.kill(os.getpid(), signal.SIGINT)  # cleanup after an interrupt is not cut short
        assert stop.signum == signal.SIGINT


def test_off_the_main_thread_nothing_is_installed() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def body() -> None:
        with stop_on_signals():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [before]
