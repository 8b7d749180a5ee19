"""The front door: the pattern clients' flows as one HTTP API, on Lambda behind a Function URL.

FastAPI validates each request and writes the OpenAPI document (``/docs``, ``/openapi.json``);
Mangum turns the Function URL's event into an ASGI request and the response back into Lambda's
answer. Every route is a thin translation to one of the ingress flows (``flows``, which the
command-line clients run too), whose failures ``restate_gateway`` turns into the API's answers::

    user --POST /products/1/reserve {"reservationId": "r1"}--> Function URL --> Lambda: Mangum -> FastAPI
                                                                                  |
                 ProductService/1/Reserve, idempotency-key: r1  <-- SDK client ---+--> Restate ingress

    POST /products/{productId}/reserve   {"reservationId"}                      -> true | false
    POST /tasks                          {"id", "description", "delay"?}        -> 202 Accepted | PreviouslyAccepted
    GET  /tasks/{taskId}                                                        -> pending | done + result
    POST /uploads                        {"uploadId", "email", "waitSeconds"?}  -> 200 url | 202 emailing

The ids are the idempotency keys (reservation, task) or the workflow key (upload), so a client may
repeat any request - after a timeout or a 503 - and nothing is done twice. Bad input is a 422 whose
message names each field; an unreachable Restate is a 503, a Restate that does not answer in time a 504.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, cast

from fastapi import FastAPI, HTTPException, Path, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.common.problems import Location, describe_problems, dotted
from functions.data_upload.email_address import looks_like_an_email_address
from functions.front_door.config import front_door_config
from functions.front_door.flows import ID_PATTERN, parse_delay
from functions.front_door.restate_gateway import RestateGateway, RestateProblem

logger = logging.getLogger(__name__)

CONFIG = front_door_config()
RESTATE = RestateGateway(CONFIG.ingress_urls, CONFIG.api_key, CONFIG.call_timeout_seconds)
"""Created once per cold start; Mangum runs every invocation on the same event loop, so it is reused."""


def checked_delay(text: str) -> str:
    parse_delay(text)
    return text


Identifier = Annotated[str, Field(pattern=ID_PATTERN, examples=["r1"])]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(looks_like_an_email_address)]


class ApiModel(BaseModel):
    # The front door's own JSON names are camelCase, as the ingress's own answers are (invocationId); the
    # patterns' payloads keep the names the contract fixes, whatever their case. Unknown fields are refused
    # by name, so a typo such as "reservationid" is an error instead of a silently missing value.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ReservationRequest(ApiModel):
    reservation_id: Identifier = Field(description="The idempotency key: repeating it repeats the first answer.")


class TaskRequest(ApiModel):
    id: Identifier = Field(description="The task id, also the idempotency key: a task is queued once per id.")
    description: str = Field(max_length=10_000)
    delay: Annotated[str, AfterValidator(checked_delay)] | None = Field(
        default=None, description="Run the task this much later: 500ms, 10s, 5m, 1h (at most a year).", examples=["10s"]
    )


class TaskAccepted(ApiModel):
    task_id: str
    invocation_id: str
    status: Literal["Accepted", "PreviouslyAccepted"]


class TaskStatus(ApiModel):
    task_id: str
    status: Literal["pending", "done"]
    result: Any = Field(default=None, description="The task's result, once done.")


class UploadRequest(ApiModel):
    upload_id: Identifier = Field(description="The upload's workflow key: an upload runs once per id.")
    email: EmailAddress = Field(description="Where the URL goes if the upload takes longer than the wait.")
    wait_seconds: float | None = Field(
        default=None,
        ge=0,
        le=CONFIG.max_upload_wait_seconds,
        description=f"How long to wait for the URL (default {CONFIG.upload_wait_seconds:g}).",
    )


class UploadAnswer(ApiModel):
    upload_id: str
    status: Literal["done", "emailing"]
    url: str | None = Field(default=None, description="The download URL, when the upload finished in time.")
    email: str | None = Field(default=None, description="Where the URL will be emailed, when it did not.")
    already_started: bool = Field(description="The id was used before: this is that upload, not a new one.")
    message: str


class Problem(ApiModel):
    message: str


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status.HTTP_502_BAD_GATEWAY: {"model": Problem, "description": "Restate refused or failed the call"},
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Problem, "description": "Restate is unreachable: retry later"},
    status.HTTP_504_GATEWAY_TIMEOUT: {"model": Problem, "description": "Restate did not answer in time: retry"},
}

api = FastAPI(
    title="Restate patterns front door",
    version="1.0.0",
    summary="Reserve products, queue tasks and upload data through Restate, safely retryable.",
)


@api.exception_handler(RequestValidationError)
async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    details = error.errors()
    problems = describe_problems(details, field_name)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"message": f"invalid request: {problems}", "detail": jsonable_encoder(details)},
    )


def field_name(location: Location) -> str:
    """``("body", "reservationId")`` -> ``reservationId``; the whole body when it is the problem."""
    if location and location[0] in ("body", "path", "query", "header") and len(location) > 1:
        location = location[1:]
    return dotted(location)


@api.exception_handler(StarletteHTTPException)
async def http_problem(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    # The same {"message": ...} shape as every other error (unknown routes, wrong methods, 404s).
    return JSONResponse(status_code=error.status_code, content={"message": str(error.detail)}, headers=error.headers)


@api.exception_handler(RestateProblem)
async def restate_problem(_request: Request, problem: RestateProblem) -> JSONResponse:
    logger.warning("Answering %s: %s", problem.status, problem.message)
    headers = {"retry-after": str(problem.retry_after_seconds)} if problem.retry_after_seconds else None
    return JSONResponse(status_code=problem.status, content={"message": problem.message}, headers=headers)


@api.post("/products/{productId}/reserve", responses=PROBLEMS, summary="Reserve a product (durable RPC)")
async def reserve_product(
    product_id: Annotated[str, Path(alias="productId", pattern=ID_PATTERN)], request: ReservationRequest
) -> bool:
    """True if this reservation got the product, false if another one had it; a repeated reservation id
    gets its first answer again (`ProductService/<productId>/Reserve` with the id as idempotency key)."""
    return await RESTATE.reserve_product(product_id, request.reservation_id)


@api.post("/tasks", status_code=status.HTTP_202_ACCEPTED, responses=PROBLEMS, summary="Queue a task")
async def submit_task(request: TaskRequest) -> TaskAccepted:
    """Queue the task in Restate (optionally delayed). The first request for an id is `Accepted`,
    repeats are `PreviouslyAccepted` with the same invocation id; the task runs once."""
    delay = parse_delay(request.delay) if request.delay else None
    submission = await RESTATE.submit_task(request.id, request.description, delay)
    if submission.status not in ("Accepted", "PreviouslyAccepted"):
        raise RestateProblem(502, f"Restate answered the send with status {submission.status!r}")
    accepted = cast(Literal["Accepted", "PreviouslyAccepted"], submission.status)
    return TaskAccepted(task_id=request.id, invocation_id=submission.invocation_id, status=accepted)


@api.get(
    "/tasks/{taskId}",
    responses={**PROBLEMS, status.HTTP_404_NOT_FOUND: {"model": Problem, "description": "No task has this id"}},
    summary="A task's state and result",
)
async def task_status(task_id: Annotated[str, Path(alias="taskId", pattern=ID_PATTERN)]) -> TaskStatus:
    """`pending` until the task has run (also while its delay lasts), then `done` with its result."""
    state = await RESTATE.task_state(task_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r} was submitted")
    if not state.done:
        return TaskStatus(task_id=task_id, status="pending")
    return TaskStatus(task_id=task_id, status="done", result=state.result)


@api.post(
    "/uploads",
    responses={
        **PROBLEMS,
        status.HTTP_202_ACCEPTED: {"model": UploadAnswer, "description": "Slow: the URL is emailed"},
    },
    summary="Upload data: the URL now, or by email",
)
async def upload(request: UploadRequest, response: Response) -> UploadAnswer:
    """Start the upload and wait for its URL (`waitSeconds`); if it takes longer, answer 202 and have
    the URL emailed when it is ready. Repeating a request neither uploads again nor emails twice."""
    wait = CONFIG.upload_wait_seconds if request.wait_seconds is None else request.wait_seconds
    outcome = await RESTATE.upload(request.upload_id, request.email, wait)
    if outcome.url is None:
        response.status_code = status.HTTP_202_ACCEPTED
    return UploadAnswer(
        upload_id=outcome.upload_id,
        status="done" if outcome.url is not None else "emailing",
        url=outcome.url,
        email=outcome.emailed_to,
        already_started=outcome.already_started,
        message=outcome.describe(wait),
    )


handler = Mangum(api, lifespan="off")
"""The Lambda handler. No lifespan: nothing needs starting, and Mangum would run it per invocation."""
