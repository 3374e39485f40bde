"""Job details (`GET /v1/projects/{p}/jobs/{j}`, jobs-logs-metrics.md §1): the model, the
client call through the request gate, and the simulator's answer in the documented shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.api.client import MAX_LISTED_JOBS, NorthflankClient
from tui.api.errors import (
    BadResponseError,
    BudgetExhaustedError,
    InvalidIdError,
    NotFoundError,
    ServerError,
)
from tui.api.models import MAX_JOB_SETTING, ConcurrencyPolicy, JobDetails, parse_timestamp
from tui.api.ratelimit import RateLimitBudget
from tui.sanitize import printable
from tui.simulator import DEFAULT_TOKEN, Simulator, World
from tui.simulator.hostile import HOSTILE_TEXT
from tui.watch.cron import CronError, CronSchedule, parse_schedule

from .conftest import START, make_client

# The docs' example (https://northflank.com/docs/v1/api/jobs/get-job), as the doc page gives
# it, with the fields the board does not read.
DOC_EXAMPLE: dict[str, Any] = {
    "id": "example-job",
    "appId": "/example-user/default-project/example-job",
    "name": "Example Job",
    "description": "This is a sample job.",
    "projectId": "default-project",
    "jobType": "cron",
    "createdAt": "2021-01-20T11:19:53.175Z",
    "vcsData": {"projectUrl": "https://github.com/northflank/gatsby-with-northflank",
                "projectType": "github", "projectBranch": "master", "publicRepo": False,
                "dockerWorkDir": "/", "dockerFilePath": "/Dockerfile"},
    "buildConfiguration": {"pathIgnoreRules": ["README.md"], "isAllowList": False},
    "disabledCI": False,
    "disabledCD": False,
    "deployment": {"region": "europe-west", "docker": {"configType": "default"}},
    "billing": {"deploymentPlan": "nf-compute-20"},
    "suspended": False,
    "settings": {
        "cron": {"schedule": "30 8 * * *", "concurrencyPolicy": "Allow"},
        "backoffLimit": 0,
        "activeDeadlineSeconds": 600,
    },
    "cluster": {"id": "nf-europe-west", "name": "nf-europe-west"},
}


def details(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(DOC_EXAMPLE))
    for key, value in changes.items():
        data[key] = value
    return data


def with_settings(**changes: Any) -> dict[str, Any]:
    data = details()
    data["settings"].update(changes)
    return data


def with_cron(**changes: Any) -> dict[str, Any]:
    data = details()
    data["settings"]["cron"].update(changes)
    return data


# ----- the model -------------------------------------------------------------------------


def test_the_docs_example() -> None:
    job = JobDetails.from_json(DOC_EXAMPLE)
    assert job.id == "example-job" and job.name == "Example Job"
    assert job.project_id == "default-project"
    assert job.app_id == "/example-user/default-project/example-job"
    assert job.description == "This is a sample job."
    assert job.job_type == "cron" and job.is_cron
    assert job.created_at == parse_timestamp("2021-01-20T11:19:53.175Z")
    assert job.suspended is False and job.runs_on_schedule
    assert job.cron_schedule == "30 8 * * *"
    assert job.concurrency_policy is ConcurrencyPolicy.ALLOW
    assert job.backoff_limit == 0 and job.active_deadline_seconds == 600
    assert job.tags == ()  # the example leaves the required tags out: tolerated
    assert not job.disabled_ci and not job.disabled_cd


def test_suspended_is_the_top_level_field() -> None:
    assert JobDetails.from_json(details(suspended=True)).suspended
    job = JobDetails.from_json(details(suspended=True))
    assert job.is_cron and not job.runs_on_schedule
    # Under settings it is not Northflank's field: ignored.
    misplaced = with_settings(suspended=True)
    assert JobDetails.from_json(misplaced).suspended is False
    missing = details()
    del missing["suspended"]
    assert JobDetails.from_json(missing).suspended is False


@pytest.mark.parametrize(
    ("value", "policy"),
    [("Allow", ConcurrencyPolicy.ALLOW), ("allow", ConcurrencyPolicy.ALLOW),
     ("FORBID", ConcurrencyPolicy.FORBID), (" replace ", ConcurrencyPolicy.REPLACE),
     ("Sometimes", ConcurrencyPolicy.UNKNOWN), (HOSTILE_TEXT, ConcurrencyPolicy.UNKNOWN),
     (None, None)],
)
def test_concurrency_policy_without_regard_to_case(
    value: str | None, policy: ConcurrencyPolicy | None
) -> None:
    assert JobDetails.from_json(with_cron(concurrencyPolicy=value)).concurrency_policy is policy


@pytest.mark.parametrize(
    ("job_type", "is_cron"),
    [("cron", True), ("CRON", True), ("manual", False), ("normal", False), ("", False),
     (HOSTILE_TEXT, False)],
)
def test_job_types_are_tolerated(job_type: str, is_cron: bool) -> None:
    job = JobDetails.from_json(details(jobType=job_type))
    assert job.is_cron is is_cron
    assert job.runs_on_schedule is is_cron
    assert job.job_type == (job_type or "manual")


def test_a_manual_job_without_settings_or_cron() -> None:
    data = details(jobType="manual")
    del data["settings"]
    job = JobDetails.from_json(data, project_id="fallback")
    assert not job.is_cron and job.cron_schedule is None and job.concurrency_policy is None
    assert job.backoff_limit == 0 and job.active_deadline_seconds is None
    bare = JobDetails.from_json({"id": "j"}, project_id="p")
    assert (bare.name, bare.project_id, bare.job_type, bare.created_at) == ("j", "p", "manual",
                                                                         None)
    assert JobDetails.from_json(details(settings=None)).cron_schedule is None
    assert JobDetails.from_json(with_settings(cron=None)).cron_schedule is None
    assert JobDetails.from_json(with_cron(schedule="")).cron_schedule is None
    # A cron job without a schedule does not run on one.
    assert not JobDetails.from_json(with_cron(schedule=None)).runs_on_schedule


def test_settings_are_read_and_clamped() -> None:
    assert JobDetails.from_json(with_settings(backoffLimit=3)).backoff_limit == 3
    assert JobDetails.from_json(with_settings(backoffLimit=-4)).backoff_limit == 0
    assert JobDetails.from_json(with_settings(backoffLimit=10**40)).backoff_limit == \
        MAX_JOB_SETTING
    assert JobDetails.from_json(with_settings(backoffLimit=2.0)).backoff_limit == 2
    assert JobDetails.from_json(with_settings(activeDeadlineSeconds=None)) \
        .active_deadline_seconds is None
    assert JobDetails.from_json(with_settings(activeDeadlineSeconds=0)) \
        .active_deadline_seconds is None
    assert JobDetails.from_json(with_settings(activeDeadlineSeconds=10**12)) \
        .active_deadline_seconds == MAX_JOB_SETTING


def test_unknown_fields_are_ignored() -> None:
    data = details(nextRunAt="2030-01-01T00:00:00Z", runOnSourceChange="always", extra=[1, 2])
    data["settings"]["cron"]["timeZone"] = "Europe/Paris"
    data["settings"]["somethingNew"] = {"a": 1}
    job = JobDetails.from_json(data)
    assert job == JobDetails.from_json(DOC_EXAMPLE)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("not an object", "job is not an object"),
        ([DOC_EXAMPLE], "job is not an object"),
        (details(id=None), "job.id is not a string"),
        (details(id=7), "job.id is not a string"),
        (details(name=["x"]), "job.name is not a string"),
        (details(jobType=1), "job.jobType is not a string"),
        (details(tags="billing"), "job.tags is not a list of strings"),
        (details(tags=["ok", 3]), "job.tags is not a list of strings"),
        (details(suspended="yes"), "job.suspended is not a boolean"),
        (details(suspended=2), "job.suspended is not a boolean"),
        (details(createdAt="yesterday"), "job.createdAt is not an ISO 8601 timestamp"),
        (details(createdAt=1611141593), "job.createdAt is not a timestamp string"),
        (details(settings="cron"), "job.settings is not an object"),
        (with_settings(cron=["30 8 * * *"]), "job.settings.cron is not an object"),
        (with_cron(schedule=30), "job.settings.cron.schedule is not a string"),
        (with_cron(concurrencyPolicy=True), "job.settings.cron.concurrencyPolicy is not a"),
        (with_settings(backoffLimit="0"), "job.settings.backoffLimit is not an integer"),
        (with_settings(activeDeadlineSeconds=1.5),
         "job.settings.activeDeadlineSeconds is not an integer"),
        (with_settings(activeDeadlineSeconds=float("inf")),
         "job.settings.activeDeadlineSeconds is not an integer"),
    ],
)
def test_wrong_types_are_a_clear_error(data: object, field: str) -> None:
    with pytest.raises(BadResponseError) as caught:
        JobDetails.from_json(data)
    assert field in caught.value.message
    assert caught.value.message.isprintable()


def test_hostile_text_is_kept_for_the_sanitiser_and_the_schedule_checked() -> None:
    data = details(name=HOSTILE_TEXT, description="d" * 1_000_000, tags=[HOSTILE_TEXT])
    data["settings"]["cron"]["schedule"] = HOSTILE_TEXT + "30 8 * * *"
    job = JobDetails.from_json(data)
    assert job.name == HOSTILE_TEXT and printable(job.name).isprintable()
    assert len(job.description or "") == 1_000_000
    problem = parse_schedule(job.cron_schedule)
    assert isinstance(problem, CronError) and problem.message.isprintable()
    huge = JobDetails.from_json(with_cron(schedule="* " * 100_000))
    assert isinstance(parse_schedule(huge.cron_schedule), CronError)


def test_as_job() -> None:
    job = JobDetails.from_json(details(tags=["a"], suspended=True)).as_job()
    assert (job.id, job.name, job.project_id, job.job_type, job.tags, job.suspended) == (
        "example-job", "Example Job", "default-project", "cron", ("a",), True)
    manual = JobDetails.from_json(details(jobType="manual")).as_job()
    assert manual.suspended is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(["id", "name", "projectId", "jobType", "tags", "createdAt",
                         "suspended", "settings", "description", "appId", "disabledCI"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.dictionaries(_KEYS, _JSON, max_size=8),
       cron=st.dictionaries(st.sampled_from(["schedule", "concurrencyPolicy"]), _JSON),
       knobs=st.dictionaries(st.sampled_from(["backoffLimit", "activeDeadlineSeconds"]), _JSON))
def test_fuzz_a_model_or_a_clear_error(
    base: dict[str, Any], cron: dict[str, Any], knobs: dict[str, Any]
) -> None:
    data = dict(base)
    data.setdefault("id", "job")
    if "settings" not in base:
        data["settings"] = {"cron": cron, **knobs}
    try:
        job = JobDetails.from_json(data)
    except BadResponseError as error:
        assert error.message.isprintable()
        return
    assert isinstance(job.id, str) and isinstance(job.suspended, bool)
    assert 0 <= job.backoff_limit <= MAX_JOB_SETTING
    parse_schedule(job.cron_schedule)  # never raises either


# ----- the client ------------------------------------------------------------------------


@pytest.fixture
def board_sim() -> Iterator[Simulator]:
    world = World(seed=7, speed=0.0, start=START, history=False, preset="board")
    with Simulator(world) as simulator:
        yield simulator
        assert simulator.errors == []


async def test_get_job_of_a_cron_job(board_sim: Simulator) -> None:
    async with make_client(board_sim) as client:
        job = await client.get_job("storefront", "refresh-prices")
    assert (job.id, job.name, job.project_id) == ("refresh-prices", "Refresh prices",
                                                   "storefront")
    assert job.is_cron and job.runs_on_schedule
    assert job.cron_schedule == "*/15 * * * *"
    assert job.concurrency_policy is ConcurrencyPolicy.ALLOW
    assert job.created_at is not None and job.created_at <= START
    assert isinstance(parse_schedule(job.cron_schedule), CronSchedule)
    assert [path for _, path, _ in board_sim.requests] == [
        "/v1/projects/storefront/jobs/refresh-prices"]


async def test_get_job_of_suspended_and_manual_jobs(board_sim: Simulator) -> None:
    async with make_client(board_sim) as client:
        suspended = await client.get_job("platform", "chaos-monkey")
        manual = await client.get_job("data", "train-ranker")
        forbid = await client.get_job("data", "compact-topics")
    assert suspended.is_cron and suspended.suspended and not suspended.runs_on_schedule
    assert suspended.cron_schedule == "*/5 * * * *"
    assert not manual.is_cron and manual.cron_schedule is None and not manual.suspended
    assert manual.tags == ("ml", "gpu")
    assert forbid.concurrency_policy is ConcurrencyPolicy.FORBID


async def test_get_job_goes_through_the_budget_gate(board_sim: Simulator) -> None:
    board_sim.set_rate_limit(4)
    budget = RateLimitBudget(share=0.5)
    async with make_client(board_sim, budget=budget) as client:
        await client.get_job("data", "ingest-clicks")
        await client.get_job("data", "ingest-clicks")
        with pytest.raises(BudgetExhaustedError):
            await client.get_job("data", "ingest-clicks")
    assert board_sim.request_count == 2  # the third was never sent


@pytest.mark.parametrize(
    ("project", "job"),
    [("data", ".."), ("data", "a/b"), ("..", "ingest-clicks"), ("data", ""),
     ("data", "x\x1b]52;c;SGVsbG8=\x07"), ("data", "?q=1")],
)
async def test_get_job_refuses_ids_before_sending(
    board_sim: Simulator, project: str, job: str
) -> None:
    async with make_client(board_sim) as client:
        with pytest.raises(InvalidIdError) as caught:
            await client.get_job(project, job)
    assert caught.value.message.isprintable()
    assert board_sim.request_count == 0


async def test_get_job_errors_and_retries(board_sim: Simulator) -> None:
    async with make_client(board_sim) as client:
        with pytest.raises(NotFoundError) as missing:
            await client.get_job("data", "no-such-job")
        assert "job data/no-such-job" in missing.value.message
        board_sim.faults.queue("503", count=2)
        job = await client.get_job("data", "ingest-clicks")  # a GET: retried
        assert job.id == "ingest-clicks"
        board_sim.faults.queue("503", count=10)
        with pytest.raises(ServerError):
            await client.get_job("data", "ingest-clicks")


async def test_get_job_under_a_team() -> None:
    world = World(seed=7, speed=0.0, start=START, history=False, preset="board")
    with Simulator(world) as simulator:
        async with make_client(simulator, team="my-team") as client:
            job = await client.get_job("data", "ingest-clicks")
    assert job.cron_schedule == "* * * * *"
    assert simulator.requests[0][1] == "/v1/teams/my-team/projects/data/jobs/ingest-clicks"


def _transport(body: bytes) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"data": []}', b'{"data": "job"}', b'{"nodata": {}}', b'{"data": {"id": 5}}',
     b'{"data": {"id": "j", "settings": {"cron": {"schedule": ["* * * * *"]}}}}',
     b"<html>502</html>", b'{"data": {"id": "j", "createdAt": "2021-13-45T99:99:99Z"}}'],
)
async def test_get_job_hostile_bodies_are_bad_responses(body: bytes) -> None:
    async with NorthflankClient(DEFAULT_TOKEN, "https://api.example.com",
                                transport=_transport(body)) as client:
        with pytest.raises(BadResponseError) as caught:
            await client.get_job("p", "j")
    assert caught.value.message.isprintable()


async def test_get_job_hostile_text_is_a_model() -> None:
    data = details(name=HOSTILE_TEXT, jobType=HOSTILE_TEXT, tags=[HOSTILE_TEXT])
    body = json.dumps({"data": data}).encode()
    async with NorthflankClient(DEFAULT_TOKEN, "https://api.example.com",
                                transport=_transport(body)) as client:
        job = await client.get_job("p", "j")
    assert job.name == HOSTILE_TEXT and not job.is_cron


async def test_list_all_jobs_walks_every_page() -> None:
    world = World(seed=7, speed=0.0, start=START, preset="empty")
    world.add_project("big", "Big")
    for index in range(230):
        world.add_job("big", f"job-{index:03d}", f"Job {index}")
    with Simulator(world) as simulator:
        async with make_client(simulator) as client:
            jobs = await client.list_all_jobs("big")
            assert [job.id for job in jobs] == [f"job-{index:03d}" for index in range(230)]
            assert simulator.request_count == 3  # pages of 100
            assert len(await client.list_all_jobs("big", limit=150)) == 150
    assert MAX_LISTED_JOBS >= 1000


# ----- the simulator's answer ------------------------------------------------------------

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
REQUIRED = {"id", "appId", "name", "tags", "projectId", "jobType", "createdAt", "disabledCI",
            "disabledCD", "billing", "settings", "cluster", "suspended"}


def _get(simulator: Simulator, path: str, method: str = "GET") -> httpx.Response:
    return httpx.request(method, simulator.url + path, headers=AUTH, timeout=10)


def test_simulator_details_in_the_documented_shape(board_sim: Simulator) -> None:
    world = board_sim.world
    for project in world.projects:
        for listed in world.jobs(project["id"]):
            response = _get(board_sim, f"/v1/projects/{project['id']}/jobs/{listed['id']}")
            assert response.status_code == 200
            data = response.json()["data"]
            assert set(data) >= REQUIRED
            for key, value in listed.items():
                assert data[key] == value  # what the list says, the details say too
            assert CREATED.match(data["createdAt"])
            assert isinstance(data["suspended"], bool)
            assert isinstance(data["billing"]["deploymentPlan"], str)
            settings_ = data["settings"]
            assert type(settings_["backoffLimit"]) is int
            assert type(settings_["activeDeadlineSeconds"]) is int
            assert settings_["activeDeadlineSeconds"] >= 1
            assert "suspended" not in settings_
            if data["jobType"] == "cron":
                cron = settings_["cron"]
                assert isinstance(parse_schedule(cron["schedule"]), CronSchedule)
                assert cron["concurrencyPolicy"] in ("Allow", "Forbid", "Replace")
            else:
                assert "cron" not in settings_ and data["suspended"] is False
            runs = world.runs(project["id"], listed["id"], limit=None)
            if runs:
                assert data["createdAt"] < runs[-1]["startedAt"]
            JobDetails.from_json(data)


def test_simulator_details_of_the_demo_world() -> None:
    world = World(seed=7, speed=0.0, start=START, history=False)
    assert world.job_details("payments", "settle-ledger")["settings"]["cron"] == {
        "schedule": "* * * * *", "concurrencyPolicy": "Allow"}
    assert world.job_details("payments", "invoice-sync")["settings"]["cron"]["schedule"] == \
        "*/5 * * * *"
    vacuum = world.job_details("data-platform", "vacuum-warehouse")
    assert vacuum["suspended"] is True and vacuum["settings"]["cron"]["schedule"] == "0 0 * * *"
    # An interval no cron expression can say: no schedule, as the doc allows.
    world.add_job("payments", "every-30s", "Every 30 s", "cron", 30)
    assert world.job_details("payments", "every-30s")["settings"]["cron"] == {
        "concurrencyPolicy": "Allow"}
    # A schedule shown otherwise than it runs (hostile text, for the escape tests).
    world.add_job("payments", "odd", "Odd", "cron", cron="0 * * * *",
                  schedule_label=HOSTILE_TEXT)
    assert world.job_details("payments", "odd")["settings"]["cron"]["schedule"] == HOSTILE_TEXT


def test_simulator_details_errors(board_sim: Simulator) -> None:
    assert _get(board_sim, "/v1/projects/data/jobs/nope").status_code == 404
    assert _get(board_sim, "/v1/projects/nope/jobs/ingest-clicks").status_code == 404
    assert _get(board_sim, "/v1/projects/data/jobs/ingest-clicks", "POST").status_code == 405
    assert _get(board_sim, "/v1/projects/data/jobs/ingest-clicks", "DELETE").status_code == 405
    team = _get(board_sim, "/v1/teams/t/projects/data/jobs/ingest-clicks/")
    assert team.status_code == 200 and team.json()["data"]["id"] == "ingest-clicks"


def test_the_hostile_worlds_cron_job_details() -> None:
    from tui.simulator.hostile import EVIL_JOB, PROJECT

    world = World(seed=7, speed=0.0, start=START, hostile=True)
    job = JobDetails.from_json(world.job_details(PROJECT, EVIL_JOB))
    assert job.cron_schedule == HOSTILE_TEXT + "0 * * * *"
    assert not job.is_cron  # its jobType is hostile text, not "cron"
    problem = parse_schedule(job.cron_schedule)
    assert isinstance(problem, CronError) and problem.message.isprintable()
