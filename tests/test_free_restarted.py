"""Freeing a port that something restarts: said, with how to stop what restarts it."""

from __future__ import annotations

from portwatch.core.free import free_port
from portwatch.core.free.recheck import held_again, restarted_by
from tests.support.factories import listener
from tests.support.procs import ListenerProcess
from tests.support.restarter import restarted_port

__all__ = ["restarted_port"]  # the fixture used below


def test_free_says_the_port_was_taken_again_and_does_not_chase_it(restarted_port: int) -> None:
    # Watched until the supervisor's new server has it (returns as soon as it does).
    outcome = free_port(restarted_port, restart_grace=30)
    assert not outcome.free_after
    assert outcome.recheck is not None
    assert outcome.recheck.again
    said = outcome.message()
    assert f"Port {restarted_port} is held again by python" in said
    assert "s ago)" in said
    assert "something started it again" in said
    # One process was ended, not one per restart.
    assert [result.ended for result in outcome.results] == [(outcome.plan.holders[0].pid,)]


def test_free_of_a_server_nothing_restarts_watches_briefly_and_says_free() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        outcome = free_port(child.ports[0], restart_grace=0.3)
    assert outcome.free_after
    assert outcome.message().endswith(f"Port {child.ports[0]} is free now.")


def test_the_words_name_the_unit_or_the_container_that_restarts_it() -> None:
    unit = listener(80, "0.0.0.0", pid=9, process="nginx", unit="nginx.service", started=99.0)
    text = held_again(80, (unit,), now=100.0)
    assert text.startswith("Port 80 is held again by nginx (PID 9, started 1 s ago): ")
    assert "it is restarted by nginx.service — stop it with `" in text
    assert text.endswith("stop nginx.service`.")
    boxed = listener(80, "0.0.0.0", pid=9, process="nginx", container="web (shop_web_1)")
    assert restarted_by(boxed) == (
        "it runs in the container web (shop_web_1): stop the container to free the port"
    )
