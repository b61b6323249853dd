"""Import and export jobs end to end: API, a real broker, a real worker process."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models.item import Item
from app.models.job import Job
from app.tasks import queue
from app.tasks.queue import publish
from tests.factories import auth_headers, committed_user_headers, make_user
from tests.workers import BROKERS, Broker, Worker, use_broker, wait_for_task

pytestmark = pytest.mark.usefixtures("database_url")
ITEMS = "/api/v1/items"


@pytest.fixture(scope="module", params=BROKERS)
def broker(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    with use_broker(request.param, tmp_path_factory.mktemp("jobs")) as chosen:
        yield chosen


@pytest.fixture(scope="module")
def worker(broker: Broker) -> Iterator[Worker]:
    process = Worker(broker, broker.job_dir / "worker.log")
    yield process
    process.stop()


@pytest.fixture
async def headers(
    worker: Worker, committed_factory: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    async with committed_factory.begin() as session:
        user = await make_user(session)
    return auth_headers(user)


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, body: bytes, kind: str
) -> str:
    response = await client.post(
        f"{ITEMS}/import", files={"file": (name, body, kind)}, headers=headers
    )
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def _gone(folder: Path) -> None:
    for _ in range(50):
        if not os.listdir(folder):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still there: {os.listdir(folder)}")


async def _count_items(factory: async_sessionmaker[AsyncSession], owner_id: int) -> int:
    async with factory() as session:
        return await session.scalar(select(func.count()).where(Item.owner_id == owner_id)) or 0


async def test_csv_import_creates_valid_rows_and_reports_the_others(
    live_client: httpx.AsyncClient, headers: dict[str, str], broker: Broker
) -> None:
    body = (
        "\ufeffTitle, price ,description,colour\n"
        "Oak desk,129.00,Solid oak,brown\n"
        '"Lamp, brass",12.5,"two\nlines",\n'
        "\n"
        ",5,no title,\n"
        "Mug,-1,,\n"
        "Vase,abc,,\n"
        "Rug,10,x,y,extra\n"
        "Stool,7,,\n"
    ).encode()
    task_id = await _import(live_client, headers, "items.csv", body, "text/csv")
    task = await wait_for_task(live_client, task_id, headers)
    assert task["status"] == "SUCCESS", task
    assert task["progress"] == 100
    assert task["error"] is None
    assert task["result"]["created"] == 3
    assert [(e["row"], e["error"].split(":")[0]) for e in task["result"]["errors"]] == [
        (3, "title"),
        (4, "price"),
        (5, "price"),
        (6, "row has 5 fields, the header has 4"),
    ]
    me = (await live_client.get("/api/v1/users/me", headers=headers)).json()
    titles = sorted(item["title"] for item in me["items"])
    assert titles == ["Lamp, brass", "Oak desk", "Stool"]
    lamp = next(item for item in me["items"] if item["title"] == "Lamp, brass")
    assert (lamp["price"], lamp["description"]) == ("12.50", "two\nlines")
    await _gone(broker.job_dir / "imports")  # the upload is deleted right after the job ends
    if broker.name == "redis":  # Celery's own result backend saw the same outcome
        outcome = queue.celery_app.AsyncResult(task_id)
        assert await asyncio.to_thread(lambda: outcome.state) == "SUCCESS"
        assert outcome.result["created"] == 3


async def test_json_lines_import_by_file_name_or_part_type(
    live_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    lines = [
        {"title": "Chair", "price": 49.9, "description": "Beech"},
        "not json",
        [1, 2],
        {"title": "Bench", "price": "120", "owner_id": 1},
        {"title": "x" * 201, "price": 1},
    ]
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    by_name = await _import(live_client, headers, "items.jsonl", body.encode(), "text/plain")
    by_type = await _import(live_client, headers, "upload", body.encode(), "application/x-ndjson")
    for task_id in (by_name, by_type):
        task = await wait_for_task(live_client, task_id, headers)
        assert task["status"] == "SUCCESS", task
        assert task["result"]["created"] == 2
        assert [e["row"] for e in task["result"]["errors"]] == [2, 3, 5]
        assert task["result"]["errors"][1]["error"] == "row must be a JSON object"


async def test_export_is_neutralised_csv_and_downloads_for_its_owner_only(
    live_client: httpx.AsyncClient,
    headers: dict[str, str],
    committed_factory: async_sessionmaker[AsyncSession],
) -> None:
    titles = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tTab", "Plain"]
    stamps = []
    for title in titles:
        created = await live_client.post(
            ITEMS, json={"title": title, "price": "1.50", "description": "=cmd"}, headers=headers
        )
        assert created.status_code == 201, created.text
        stamps.append([created.json()["created_at"], created.json()["updated_at"]])
    response = await live_client.post(f"{ITEMS}/export", headers=headers)
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    task = await wait_for_task(live_client, task_id, headers)
    assert task["status"] == "SUCCESS", task
    assert task["result"]["rows"] == len(titles)
    download = await live_client.get(task["result"]["download_url"], headers=headers)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["id", "title", "description", "price", "created_at", "updated_at"]
    # Titles are stripped on input, so the tab one arrives as "Tab".
    assert [row[1] for row in rows[1:]] == [
        "'=HYPERLINK(1)",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "Tab",
        "Plain",
    ]
    assert {row[2] for row in rows[1:]} == {"'=cmd"}
    assert {row[3] for row in rows[1:]} == {"1.50"}
    assert [row[4:] for row in rows[1:]] == stamps  # timestamps written as the API writes them
    stranger = await committed_user_headers(committed_factory)
    assert (await live_client.get(f"/api/v1/tasks/{task_id}", headers=stranger)).status_code == 404
    other = await live_client.get(f"/api/v1/tasks/{task_id}/download", headers=stranger)
    assert other.status_code == 404


async def test_a_job_delivered_again_creates_nothing_twice(
    live_client: httpx.AsyncClient,
    headers: dict[str, str],
    committed_factory: async_sessionmaker[AsyncSession],
) -> None:
    body = "title,price\n" + "".join(f"Item {n},{n}.00\n" for n in range(1, 51))
    task_id = await _import(live_client, headers, "items.csv", body.encode(), "text/csv")
    first = await wait_for_task(live_client, task_id, headers)
    assert first["result"] == {"created": 50, "errors": []}
    async with committed_factory() as session:
        job = await session.scalar(select(Job).where(Job.task_id == task_id))
    assert job is not None
    publish("import", job.id, task_id)  # the broker delivers the same message again
    # One task at a time, in order: once a later export is done, the duplicate ran too.
    export = (await live_client.post(f"{ITEMS}/export", headers=headers)).json()["task_id"]
    assert (await wait_for_task(live_client, export, headers))["status"] == "SUCCESS"
    assert await _count_items(committed_factory, job.owner_id) == 50
    again = (await live_client.get(f"/api/v1/tasks/{task_id}", headers=headers)).json()
    assert again == first
