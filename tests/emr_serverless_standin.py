"""A stand-in for what moto's EMR Serverless lacks, in front of moto's real server.

Measured on moto 5.2.5: a job run is SUCCESS the moment it starts (it never waits or runs,
and never fails), `clientToken` is ignored (the same token twice starts two runs), and a
cancel turns even a finished run CANCELLED. Everything else (the REST protocol, ids, ARNs,
validation, errors) stays moto's: each request is passed to moto, and only these parts of the
answers are this stand-in's:

- StartJobRun honours `clientToken`: a token seen before answers with the same run.
- A run is SUBMITTED, then RUNNING after `RUNNING_AFTER_S`, until the test ends it
  (`POST /_standin/runs/{jobRunId}` with a state); GetJobRun reports that lifecycle.
- CancelJobRun makes a live run CANCELLING, then CANCELLED after `CANCELLED_AFTER_S`; an
  ended run is refused with a ValidationException (the refusal CancelJobRun documents for
  a request it cannot carry out; what AWS answers for an ended run is not verified here).
- Faults: `POST /_standin/faults {"failed_start_answers": N}` starts the next runs on moto but
  answers the next N StartJobRun calls with a 500, as a lost answer would look.

`GET /_standin/runs` shows every run, its token and how often it was read and cancelled.
`python -m tests.emr_serverless_standin --port P --moto URL`.
"""

import argparse
import json
import time
from typing import Any

from aiohttp import ClientSession, web

RUNNING_AFTER_S = 0.2
CANCELLED_AFTER_S = 0.5
FINAL = {"SUCCESS", "FAILED", "CANCELLED"}
MOTO = web.AppKey("moto", str)
SESSION = web.AppKey("session", ClientSession)
RUNS = web.AppKey("runs", dict[str, dict[str, Any]])
FAULTS = web.AppKey("faults", dict[str, int])

routes = web.RouteTableDef()


def current(run: dict[str, Any]) -> str:
    """The run's state now: the time-driven steps happen when someone looks."""
    age = time.time() - run["changed_at"]
    if run["state"] == "SUBMITTED" and age >= RUNNING_AFTER_S:
        settle(run, "RUNNING")
    elif run["state"] == "CANCELLING" and age >= CANCELLED_AFTER_S:
        settle(run, "CANCELLED", "Cancelled by request.")
    return str(run["state"])


def settle(run: dict[str, Any], state: str, details: str | None = None) -> None:
    run.update(state=state, details=details, changed_at=time.time())
    if state in FINAL:
        run["ended_at"] = run["changed_at"]


async def to_moto(request: web.Request) -> tuple[int, dict[str, str], bytes]:
    headers = {
        k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
    }
    url = request.app[MOTO] + request.path_qs
    async with request.app[SESSION].request(
        request.method, url, headers=headers, data=await request.read()
    ) as answer:
        kept = {k: v for k, v in answer.headers.items() if k.lower().startswith("x-amz")}
        return answer.status, kept, await answer.read()


def aws_error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": kind}
    )


@routes.post("/applications/{application_id}/jobruns")
async def start_job_run(request: web.Request) -> web.Response:
    token = (await request.json()).get("clientToken")
    runs = request.app[RUNS]
    seen = next((run for run in runs.values() if run["token"] == token), None)
    if seen is None:
        status, headers, body = await to_moto(request)
        if status != 200:
            return web.Response(status=status, headers=headers, body=body)
        started = json.loads(body)
        now = time.time()
        seen = runs[started["jobRunId"]] = {
            "token": token, "started": started, "state": "SUBMITTED", "details": None,
            "created_at": now, "changed_at": now, "ended_at": None, "gets": 0, "cancels": 0,
        }  # fmt: skip
    seen["start_calls"] = seen.get("start_calls", 0) + 1
    faults = request.app[FAULTS]
    if faults.get("failed_start_answers", 0) > 0:
        faults["failed_start_answers"] -= 1
        return aws_error(500, "InternalServerException", "Injected: the answer was lost.")
    return web.json_response(seen["started"])


@routes.get("/applications/{application_id}/jobruns/{job_run_id}")
async def get_job_run(request: web.Request) -> web.Response:
    status, headers, body = await to_moto(request)
    run = request.app[RUNS].get(request.match_info["job_run_id"])
    if status != 200 or run is None:
        return web.Response(status=status, headers=headers, body=body)
    run["gets"] += 1
    answer = json.loads(body)
    job_run = answer["jobRun"]
    job_run.update(state=current(run), createdAt=run["created_at"], updatedAt=run["changed_at"])
    job_run.pop("stateDetails", None)
    if run["details"]:
        job_run["stateDetails"] = run["details"]
    if run["ended_at"] is not None:
        job_run["endedAt"] = run["ended_at"]
    return web.json_response(answer, headers=headers)


@routes.delete("/applications/{application_id}/jobruns/{job_run_id}")
async def cancel_job_run(request: web.Request) -> web.Response:
    run = request.app[RUNS].get(request.match_info["job_run_id"])
    if run is None:
        status, headers, body = await to_moto(request)
        return web.Response(status=status, headers=headers, body=body)
    run["cancels"] += 1
    state = current(run)
    if state in FINAL or state == "CANCELLING":
        return aws_error(400, "ValidationException", f"Job run is in state {state}.")
    settle(run, "CANCELLING")
    return web.json_response(run["started"] | {})


@routes.post("/_standin/runs/{job_run_id}")
async def end_run(request: web.Request) -> web.Response:
    wanted = await request.json()
    settle(
        request.app[RUNS][request.match_info["job_run_id"]], wanted["state"], wanted.get("details")
    )
    return web.json_response({"ok": True})


@routes.post("/_standin/faults")
async def set_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].update(await request.json())
    return web.json_response(request.app[FAULTS])


@routes.get("/_standin/runs")
async def show_runs(request: web.Request) -> web.Response:
    runs = request.app[RUNS]
    shown = {run_id: {**run, "state": current(run)} for run_id, run in runs.items()}
    return web.json_response(shown)


@routes.get("/_standin/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _session(app: web.Application) -> Any:
    app[SESSION] = ClientSession()
    yield
    await app[SESSION].close()


def create_app(moto_url: str) -> web.Application:
    app = web.Application()
    app[MOTO], app[RUNS], app[FAULTS] = moto_url.rstrip("/"), {}, {}
    app.cleanup_ctx.append(_session)
    app.add_routes(routes)
    # Everything else (CreateApplication, ListJobRuns, ...) is moto's alone.
    app.router.add_route("*", "/{tail:.*}", passthrough)
    return app


async def passthrough(request: web.Request) -> web.Response:
    status, headers, body = await to_moto(request)
    return web.Response(status=status, headers=headers, body=body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto", required=True, help="moto server's URL")
    args = parser.parse_args()
    web.run_app(create_app(args.moto), host="127.0.0.1", port=args.port, print=None)
