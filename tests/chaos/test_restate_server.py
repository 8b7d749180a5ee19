"""Fault: restate-server killed with SIGKILL in the middle of 50 sagas, then started again on its data.

On a stack of its own: killing the session stack's server would disturb every other test. The
trips mix the saga's outcomes - booked, refused and rolled back, booked after lost charge answers,
given up after lost charge answers and refunded - so that the kill finds sagas at every step, the
compensations included. After the restart every trip must end, booked or rolled back as its card
and amount allow, and the simulated payment provider's ledger must hold exactly one payment per
trip, in the state the trip's ending says (charged, refused or refunded), charged at most once.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from restate_lambda.local.harness import RETRYING
from restate_lambda.local.processes import port_is_open
from restate_lambda.local.restate_server import RestateServer

from functions.catalog import pattern_named
from functions.sagas.payment_provider import PaymentRecord
from local.demos.sagas import ROLLED_BACK as UNDONE_IN_REVERSE
from local.stack import LocalStack, StackPorts
from tests.fault_figures import report_fault
from tests.polling import wait_until
from tests.stack.test_sagas import flaky_card, sagas_log, trip_request

pytestmark = [
    pytest.mark.fault,
    pytest.mark.skipif(os.environ.get("CHAOS") != "1", reason="slow, on a stack of its own: `make chaos` runs it"),
    pytest.mark.timeout(900),
]

TRIPS = 50
WAVES = 5
CHARGE_MAX_ATTEMPTS = 3
KILL_AFTER_PAYMENTS = TRIPS // 10
"""Payments in the ledger when the server is killed: a few sagas are over, most are under way."""


BOOKED, ROLLED_BACK = "booked", "rolled back"


@dataclass(frozen=True)
class Trip:
    trip_id: str
    amount: int
    card: str
    endings: frozenset[str]
    """How the trip may end, given its amount and card."""


def trips_of(run: str) -> list[Trip]:
    good_card = "4111111111111111"
    # A flaky card's charge may end either way here. Restate counts a step's attempts as the
    # invocation's attempts since its last journal entry: a Lambda throttle (429, 50 sagas on 10
    # execution environments) or the kill in between uses one up, and the restarted server counts
    # from 1 again. Either way the ledger must agree with the ending, and nothing is charged twice.
    kinds = [
        (1000, good_card, {BOOKED}),
        (1500, good_card, {ROLLED_BACK}),  # over the provider's limit: refused
        (1000, flaky_card(CHARGE_MAX_ATTEMPTS - 1, 0), {BOOKED, ROLLED_BACK}),  # booked once the charge is heard
        (1000, flaky_card(CHARGE_MAX_ATTEMPTS, 1), {BOOKED, ROLLED_BACK}),  # given up, refunded, rolled back
    ]
    return [
        Trip(f"trip-{run}-{n}", amount, card, frozenset(endings))
        for n, (amount, card, endings) in enumerate(kinds[n % len(kinds)] for n in range(TRIPS))
    ]


def ledger_status(trip: Trip, ending: str) -> str:
    if ending == BOOKED:
        return "charged"
    return "refused" if trip.amount > 1000 else "refunded"


@pytest.fixture
def sagas_stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(
        state_dir=tmp_path / "stack",
        ports=StackPorts.random(),
        patterns=[pattern_named("sagas")],
        with_kafka=False,
        http_apis=(),
        function_settings={
            "BOOKING_CHARGE_MAX_ATTEMPTS": str(CHARGE_MAX_ATTEMPTS),
            "BOOKING_PAYMENT_LEDGER_DIR": str(tmp_path / "ledger"),
        },
    ).start()
    yield stack
    # The restarted server is no part the stack started itself.
    if stack.restate is not None:
        stack.restate.stop()
    stack.stop()


def ledger(stack: LocalStack) -> dict[str, PaymentRecord]:
    folder = Path(stack.function_settings["BOOKING_PAYMENT_LEDGER_DIR"])
    return {path.stem: PaymentRecord.model_validate_json(path.read_text()) for path in folder.glob("*.json")}


def kill(server: RestateServer) -> None:
    assert server.process is not None
    # The guard leads the server's process group: SIGKILL to the group is `kill -9` of the server itself.
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    # Only the guard is reaped here: the server dies beside it, its sockets closing a moment later.
    ports = (server.ports.ingress, server.ports.admin, server.ports.node)
    wait_until(lambda: not any(port_is_open(port) for port in ports), "the killed server's ports to close")


def started_again(server: RestateServer) -> RestateServer:
    """A new server on the killed one's data, ports and settings, as LocalStack builds it."""
    return RestateServer(
        base_dir=server.base_dir,
        ports=server.ports,
        lambda_endpoint=server.lambda_endpoint,
        log_file=server.log_file,
        settings=server.settings,
    ).start()


def outcome_of(stack: LocalStack, trip: Trip) -> httpx.Response:
    return httpx.get(f"{stack.ingress_url}/restate/workflow/BookingWorkflow/{trip.trip_id}/attach", timeout=300)


def test_restate_server_killed_mid_sagas_loses_none_and_charges_each_trip_once(sagas_stack: LocalStack, unique: str):
    stack = sagas_stack
    trips = trips_of(unique)
    for n, trip in enumerate(trips):
        # Started in waves a second apart, so that the kill finds sagas not started, under way and over.
        sent = httpx.post(
            f"{stack.ingress_url}/BookingWorkflow/{trip.trip_id}/Run/send?delay={1 + n % WAVES}s",
            json=trip_request(f"{unique}-{trip.trip_id}", trip.amount, trip.card),
            timeout=30,
        )
        assert sent.status_code == 202, sent.text

    wait_until(lambda: len(ledger(stack)), "sagas under way", accept=lambda count: count >= KILL_AFTER_PAYMENTS)
    assert stack.restate is not None
    kill(stack.restate)
    paid_at_kill = len(ledger(stack))
    booked_at_kill = sum(message.endswith(" booked") for message in sagas_log(stack))
    stack.restate = started_again(stack.restate)

    with ThreadPoolExecutor(10) as pool:
        outcomes = dict(zip(trips, pool.map(lambda trip: outcome_of(stack, trip), trips), strict=True))

    endings: dict[Trip, tuple[str, str]] = {}
    """(how it ended, its payment id)"""
    lost, wrong = [], []
    for trip, response in outcomes.items():
        rolled_back = UNDONE_IN_REVERSE.search(response.text) if response.status_code in (402, 500) else None
        if response.status_code == 200 and BOOKED in trip.endings:
            endings[trip] = (BOOKED, response.json()["payment_id"])
        elif rolled_back is not None and ROLLED_BACK in trip.endings:
            endings[trip] = (ROLLED_BACK, rolled_back["payment"])
        elif response.status_code in (404, 409) or response.status_code >= 502:
            lost.append((trip, response.status_code, response.text))
        else:
            wrong.append((trip, response.status_code, response.text))
    records = ledger(stack)
    charged = Counter(
        message.removeprefix("Charged payment: ").split(" ")[0]
        for message in sagas_log(stack)
        if message.startswith("Charged payment: ")
    )
    payments = {payment for _, payment in endings.values()}
    duplicated = len(records) - len(payments) + sum(charged[payment] > 1 for payment in payments)
    ended = Counter(ending for ending, _ in endings.values())
    report_fault(
        f"restate-server SIGKILL in the middle of {TRIPS} sagas, then restarted",
        f"killed with {booked_at_kill} booked, {paid_at_kill} paid; "
        f"done {len(endings)} ({ended[BOOKED]} booked, {ended[ROLLED_BACK]} rolled back), "
        f"lost {len(lost)}, wrong ending {len(wrong)}, duplicated {duplicated}, "
        f"compensations in reverse order {ended[ROLLED_BACK]}/{ended[ROLLED_BACK]}; "
        f"ledger: {len(records)} payments for {TRIPS} trips",
    )
    assert (lost, wrong) == ([], [])
    assert sorted(records) == sorted(payments) and len(payments) == TRIPS, "one payment per trip, none without a trip"
    assert {trip: records[payment].status for trip, (_, payment) in endings.items()} == {
        trip: ledger_status(trip, ending) for trip, (ending, _) in endings.items()
    }
    assert {payment: charged[payment] for payment in payments} == {
        payment: 0 if trip.amount > 1000 else 1 for trip, (_, payment) in endings.items()
    }
    assert stack.admin().query(f"SELECT id, target, status FROM sys_invocation WHERE {RETRYING}") == []
