"""The embedded broker on its own: delivery, acknowledgement, and dead consumers.

No database here: this is about files, locks and processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection
from kombu.simple import SimpleQueue

from app.tasks.spool import Transport, recover_abandoned

# A consumer in another process: takes one message without acknowledging it, says so,
# then waits to be killed.
CONSUMER = textwrap.dedent(
    """
    import sys, time
    from kombu import Connection
    from app.tasks.spool import Transport
    with Connection(transport=Transport, transport_options={"spool_dir": sys.argv[1]}) as conn:
        message = conn.SimpleQueue("jobs").get(timeout=10)
        print(message.payload, flush=True)
        time.sleep(60)
    """
)


def _connect(spool: Path) -> Connection:
    options = {"spool_dir": str(spool), "recovery_interval": 0.2}
    return Connection(transport=Transport, transport_options=options)


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "broker"


@pytest.fixture
def jobs(spool: Path) -> Iterator[SimpleQueue]:
    """The `jobs` queue of a connection to the spool, closed after the test."""
    with _connect(spool) as conn:
        queue = conn.SimpleQueue("jobs")
        yield queue
        queue.close()


@pytest.fixture
def consumer_process(spool: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, str(spool)], stdout=subprocess.PIPE, text=True
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)
    assert process.stdout is not None
    process.stdout.close()


def test_messages_are_delivered_in_order_and_gone_once_acknowledged(
    spool: Path, jobs: SimpleQueue
) -> None:
    for n in range(3):
        jobs.put({"n": n})
    received = [jobs.get(timeout=1) for _ in range(3)]
    assert [message.payload["n"] for message in received] == [0, 1, 2]
    assert len(list((spool / "unacked").rglob("*.msg"))) == 3  # claimed, not yet done
    for message in received:
        message.ack()
    assert list(spool.rglob("*.msg")) == []


def test_a_rejected_message_is_delivered_again(spool: Path, jobs: SimpleQueue) -> None:
    jobs.put({"n": 1})
    jobs.get(timeout=1).reject(requeue=True)
    again = jobs.get(timeout=1)
    assert again.payload == {"n": 1}
    again.ack()
    assert list(spool.rglob("*.msg")) == []


def test_unfinished_files_are_never_delivered(spool: Path, jobs: SimpleQueue) -> None:
    jobs.put({"n": 1})
    (spool / "queue" / ".0_partial.jobs.msg.tmp").write_text('{"half": ')
    assert jobs.get(timeout=1).payload == {"n": 1}
    with pytest.raises(jobs.Empty):
        jobs.get(timeout=0.3)


def test_two_consumers_never_share_a_message(spool: Path) -> None:
    with _connect(spool) as first, _connect(spool) as second:
        producer = first.SimpleQueue("jobs")
        for n in range(20):
            producer.put({"n": n})
        a, b = first.SimpleQueue("jobs"), second.SimpleQueue("jobs")
        seen: list[int] = []
        for _ in range(10):
            for queue in (a, b):
                message = queue.get(timeout=1)
                seen.append(message.payload["n"])
                message.ack()
        assert sorted(seen) == list(range(20))
        for queue in (producer, a, b):
            queue.close()


def test_a_dead_consumers_message_comes_back_and_a_live_ones_does_not(
    spool: Path, jobs: SimpleQueue, consumer_process: subprocess.Popen[str]
) -> None:
    jobs.put({"job": 7})
    assert consumer_process.stdout is not None
    assert consumer_process.stdout.readline().strip() == "{'job': 7}"
    assert recover_abandoned(spool) == 0  # its owner is alive: not stolen
    with pytest.raises(jobs.Empty):
        jobs.get(timeout=0.3)
    os.kill(consumer_process.pid, signal.SIGKILL)
    consumer_process.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the next sweep finds the lock free
        try:
            message = jobs.get(timeout=0.5)
            break
        except jobs.Empty:
            continue
    else:
        pytest.fail("the dead consumer's message was not delivered again")
    assert message.payload == {"job": 7}
    message.ack()
    leftovers = [path.name for path in (spool / "unacked").iterdir()]
    assert not [name for name in leftovers if f"-{consumer_process.pid}-" in name]
