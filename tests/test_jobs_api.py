"""The job endpoints without a worker: uploads, validation, limits, who sees which task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.models.item import Item
from app.models.job import Job
from tests.factories import auth_headers, committed_user_headers, make_user
from tests.workers import use_broker

pytestmark = pytest.mark.usefixtures("database_url")
IMPORT = "/api/v1/items/import"
EXPORT = "/api/v1/items/export"
TASKS = "/api/v1/tasks"
GOOD_CSV = b"title,description,price\nLamp,Brass,12.50\n"


@pytest.fixture
def job_dir(tmp_path: Path) -> Iterator[Path]:
    """A job folder (and embedded broker) of this test's own; no worker reads it."""
    with use_broker("embedded", tmp_path / "jobs") as broker:
        yield broker.job_dir


@pytest.fixture
def limits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings for one test, given as an indirect parameter."""
    for key, value in request.param.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _uploads(job_dir: Path) -> list[Path]:
    folder = job_dir / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


async def _job_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Job)) or 0


async def test_import_is_accepted_and_recorded_for_its_owner(
    client: httpx.AsyncClient, session: AsyncSession, job_dir: Path
) -> None:
    user = await make_user(session)
    files = {"file": ("items.csv", GOOD_CSV, "text/csv")}
    response = await client.post(IMPORT, files=files, headers=auth_headers(user))
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    job = await session.scalar(select(Job).where(Job.task_id == task_id))
    assert job is not None
    assert (job.owner_id, job.kind, job.total_rows, job.source_format) == (
        user.id,
        "import",
        1,
        "csv",
    )
    assert (job_dir / str(job.source_file)).read_bytes() == GOOD_CSV
    assert len(list((job_dir / "broker" / "queue").glob("*.msg"))) == 1  # queued once
    status = await client.get(f"{TASKS}/{task_id}", headers=auth_headers(user))
    assert status.json() == {
        "task_id": task_id,
        "status": "PENDING",
        "progress": 0,
        "result": None,
        "error": None,
    }


async def test_import_asks_for_a_token_before_reading_the_body(
    client: httpx.AsyncClient, job_dir: Path
) -> None:
    files = {"file": ("items.csv", GOOD_CSV * 1000, "text/csv")}
    response = await client.post(IMPORT, files=files)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert _uploads(job_dir) == []


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"title,price\n\xff\xfe,1\n", "items.csv", "not valid UTF-8"),
        (b"title,price\ncaf\xe9,1\n", "items.csv", "not valid UTF-8"),  # Latin-1
        ("title,price\nLamp,1\n".encode("utf-16"), "items.csv", "not valid UTF-8"),
        (b"\n\n", "items.csv", "empty"),
        (b"title,description\nLamp,Brass\n", "items.csv", "missing: price"),
        (b"title,price,Title\nLamp,1,x\n", "items.csv", "repeats title"),
        (b"title,price\n" + b"x" * 140_000 + b",1\n", "items.csv", "Malformed CSV"),
        (b"title,price\n" + b"Lamp,1\n" * 4, "items.csv", "more than 3 rows"),
        (b'{"title": "a", "price": 1}\n' * 4, "items.jsonl", "more than 3 rows"),
    ],
)
@pytest.mark.parametrize("limits", [{"IMPORT_MAX_ROWS": "3"}], indirect=True)
@pytest.mark.usefixtures("limits")
async def test_unusable_file_fails_its_task_at_once_and_nothing_is_kept(
    client: httpx.AsyncClient,
    session: AsyncSession,
    job_dir: Path,
    content: bytes,
    name: str,
    message: str,
) -> None:
    # Any file matches the upload's schema, so it is accepted; its task says why it failed.
    user = await make_user(session)
    response = await client.post(
        IMPORT, files={"file": (name, content, "text/csv")}, headers=auth_headers(user)
    )
    assert response.status_code == 202, response.text
    task = await client.get(f"{TASKS}/{response.json()['task_id']}", headers=auth_headers(user))
    assert task.json()["status"] == "FAILURE"
    assert message in task.json()["error"]
    assert task.json()["result"] is None
    assert _uploads(job_dir) == []
    assert list((job_dir / "broker" / "queue").glob("*.msg")) == []  # nothing to run
    owned = select(func.count()).select_from(Item).where(Item.owner_id == user.id)
    assert await session.scalar(owned) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": {"file": "title,price"}}, "multipart/form-data"),
        ({"files": {"other": ("a.csv", GOOD_CSV, "text/csv")}}, "Field required"),
        ({"files": [("file", ("a.csv", GOOD_CSV)), ("file", ("b.csv", GOOD_CSV))]}, "one file"),
        ({"files": {"file": ("a.csv", b"", "text/csv")}}, "empty"),
        (
            {
                "content": b"--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\nabc",
                "headers": {"content-type": "multipart/form-data; boundary=xyz"},
            },
            "Incomplete",
        ),
        (
            {
                "content": b"--xyz\r\ngarbage without headers end",
                "headers": {"content-type": "multipart/form-data; boundary=xyz"},
            },
            "multipart",
        ),
    ],
)
async def test_import_needs_one_multipart_file(
    client: httpx.AsyncClient,
    session: AsyncSession,
    job_dir: Path,
    kwargs: dict[str, object],
    message: str,
) -> None:
    user = await make_user(session)
    request = dict(kwargs)  # the parameter is shared by both back ends' runs: no mutation
    headers = {**auth_headers(user), **request.pop("headers", {})}  # type: ignore[dict-item]
    response = await client.post(IMPORT, headers=headers, **request)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert _uploads(job_dir) == []


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


@pytest.mark.parametrize("limits", [{"MAX_IMPORT_SIZE": "2048"}], indirect=True)
@pytest.mark.usefixtures("limits")
async def test_oversize_upload_is_refused_while_it_streams(
    client: httpx.AsyncClient, session: AsyncSession, job_dir: Path
) -> None:
    user = await make_user(session)
    big = b"title,price\n" + b"Lamp,1\n" * 400  # 2,812 bytes, limit 2,048
    declared = await client.post(
        IMPORT, files={"file": ("a.csv", big, "text/csv")}, headers=auth_headers(user)
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # No Content-Length (chunked): refused once the file part passes the limit.
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + big * 50
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        **auth_headers(user),
        "content-type": f"multipart/form-data; boundary={boundary}",
    }
    streamed = await client.post(IMPORT, content=_chunks(body), headers=headers)
    assert streamed.status_code == 413
    assert _uploads(job_dir) == []
    assert await _job_count(session) == 0


@pytest.mark.parametrize("limits", [{"MAX_IMPORT_SIZE": "2048"}], indirect=True)
@pytest.mark.usefixtures("limits")
async def test_upload_of_exactly_the_limit_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession, job_dir: Path
) -> None:
    # The limit is the file's size: the multipart framing around it does not count.
    rows = b"title,price\n" + b"Lamp,1\n" * 290
    file = rows + b"#" * (2048 - len(rows) - 1) + b"\n"
    assert len(file) == 2048
    response = await client.post(
        IMPORT,
        files={"file": ("a.csv", file, "text/csv")},
        headers=auth_headers(await make_user(session)),
    )
    assert response.status_code == 202, response.text
    over = await client.post(
        IMPORT,
        files={"file": ("a.csv", file + b"\n", "text/csv")},
        headers=auth_headers(await make_user(session)),
    )
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_task_is_visible_to_its_owner_and_superusers_only(
    client: httpx.AsyncClient, session: AsyncSession, job_dir: Path
) -> None:
    owner, stranger = await make_user(session), await make_user(session)
    admin = await make_user(session, is_superuser=True)
    response = await client.post(EXPORT, headers=auth_headers(owner))
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert (await client.get(f"{TASKS}/{task_id}", headers=auth_headers(owner))).status_code == 200
    assert (await client.get(f"{TASKS}/{task_id}", headers=auth_headers(admin))).status_code == 200
    hidden = await client.get(f"{TASKS}/{task_id}", headers=auth_headers(stranger))
    unknown = await client.get(f"{TASKS}/not-a-task", headers=auth_headers(stranger))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()  # nothing tells the two apart
    too_long = await client.get(f"{TASKS}/{'a' * 5000}", headers=auth_headers(owner))
    assert too_long.status_code == 404
    assert (await client.get(f"{TASKS}/{task_id}")).status_code == 401
    download = await client.get(f"{TASKS}/{task_id}/download", headers=auth_headers(stranger))
    assert download.status_code == 404


async def test_download_waits_for_a_finished_export(
    client: httpx.AsyncClient, session: AsyncSession, job_dir: Path
) -> None:
    user = await make_user(session)
    export = await client.post(EXPORT, headers=auth_headers(user))
    pending = await client.get(
        f"{TASKS}/{export.json()['task_id']}/download", headers=auth_headers(user)
    )
    assert pending.status_code == 409
    assert pending.json()["error"]["details"] == {"status": "PENDING"}
    files = {"file": ("items.csv", GOOD_CSV, "text/csv")}
    upload = await client.post(IMPORT, files=files, headers=auth_headers(user))
    no_file = await client.get(
        f"{TASKS}/{upload.json()['task_id']}/download", headers=auth_headers(user)
    )
    assert no_file.status_code == 404


async def test_broker_outage_answers_503_and_fails_the_job(
    client: httpx.AsyncClient, session: AsyncSession, tmp_path: Path
) -> None:
    user = await make_user(session)
    # Nothing listens on port 1: every publish attempt is refused.
    with use_broker("embedded", tmp_path / "jobs", CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        files = {"file": ("items.csv", GOOD_CSV, "text/csv")}
        response = await client.post(IMPORT, files=files, headers=auth_headers(user))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["details"] == {"component": "broker"}
    job = await session.scalar(select(Job).where(Job.owner_id == user.id))
    assert job is not None
    await session.refresh(job)
    assert (job.status, job.error) == ("FAILURE", "The job could not be queued")
    assert _uploads(tmp_path / "jobs") == []


async def test_openapi_describes_the_upload(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/v1/items/import"]["post"]["requestBody"]
    file_field = body["content"]["multipart/form-data"]["schema"]["properties"]["file"]
    assert file_field["format"] == "binary"
    assert "/api/v1/tasks/{task_id}/download" in schema["paths"]


async def test_no_database_lock_is_held_while_an_upload_streams(
    live_client: httpx.AsyncClient,
    committed_factory: async_sessionmaker[AsyncSession],
    job_dir: Path,
) -> None:
    # On SQLite a session's transaction holds the write lock: if the one that
    # authenticated the upload stayed open while the body arrives, this write would
    # wait for the whole upload (here: forever, as the upload waits for the write).
    headers = await committed_user_headers(committed_factory)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\ntitle,price\n"
    ).encode()
    written: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield head
        async with committed_factory.begin() as other:  # another writer, mid-upload
            user = await make_user(other)
        written.append(user.id)
        yield b"Lamp,1\n" + f"\r\n--{boundary}--\r\n".encode()

    response = await asyncio.wait_for(
        live_client.post(
            IMPORT,
            content=body(),
            headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        ),
        timeout=8,
    )
    assert response.status_code == 202, response.text
    assert len(written) == 1
