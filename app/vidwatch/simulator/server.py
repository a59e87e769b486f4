"""A QuickRouter look-alike on 127.0.0.1, for the demo, the tests and the benchmarks.

It speaks ``GET /v1/video/query?id=…`` and ``POST /v1/video/create`` the way the real
gateways do (``shared/api.md``, ``shared/captures/``): each model family's own answers
and steps (grok, veo with its seven steps and ``detail``, sora; see
:mod:`vidwatch.simulator.shapes`), the answer's ``id`` in the style chosen (``id_style``),
and the open-source gateway's errors: 401 ``无效的令牌`` for a wrong key, 400
``task_not_exist`` for an unknown task, 404 ``Invalid URL (GET /v1/v1/video/query)``
for an unknown route (before the key is looked at). Jobs take durations drawn from a
lognormal distribution (median 90 s by default, long tail), all deterministic from a
seed; ``speed`` compresses time (speed 60: a 90 s job takes 1.5 s). It serves the
videos (real small MP4s, each job's its own: :mod:`vidwatch.simulator.videos`; ranges
included), a veo job's video before upscaling, and a grok job's JPEG thumbnail itself.

Faults can be switched on for the next N requests (``inject``) or mixed in at
random (``chaos``): 401 (a wrong or an exhausted key), 404, 429 with ``Retry-After``
in seconds or as an HTTP date or bare as new-api sends it (no body, no header),
500/502/503, HTML, empty, truncated or malformed JSON, wrong types, missing fields,
huge bodies, slow answers, dropped and reset connections, an error that echoes the
Authorization header, and a redirect to another host. With ``idle_close`` it closes
kept-alive connections idle that long without a word, as proxies in front of gateways
do (:class:`~vidwatch.simulator.keepalive.IdleClosing`).

Creates check each known model's fields, spend a configurable credit, refuse when too
many created jobs run, and can lose the answer after taking the job: see
:mod:`vidwatch.simulator.creates` and its ``CREATE_HELP``.

This module is the simulator's HTTP face. Its neighbours: :mod:`vidwatch.simulator.jobs`
(the jobs and their videos), :mod:`vidwatch.simulator.faults` (the fault catalogue and
the error envelopes), :mod:`vidwatch.simulator.serve` (running it in a thread or until
interrupted).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web

from vidwatch.simulator.billing import BillingDesk
from vidwatch.simulator.creates import CreateDesk, handle_control, handle_create
from vidwatch.simulator.faults import (
    AUTH_BURST,
    AUTH_FAULTS,
    CHAOS_WEIGHTS,
    FAULTS,
    canned_answer,
    invalid_key_body,
    invalid_url_body,
    not_found_body,
    pop_fault,
)
from vidwatch.simulator.jobs import (
    FAIL_REASONS,
    MODELS,
    PROMPTS,
    VIDEO_SIZE,
    Job,
    Stats,
    byte_range,
)
from vidwatch.simulator.keepalive import IdleClosing
from vidwatch.simulator.shapes import ID_STYLES, IdStyle, Links, query_body

DRAFT = "-draft"  # a veo job's video before upscaling: /videos/{server id}-draft.mp4

__all__ = [
    "Simulator",
]


class Simulator:
    def __init__(
        self,
        jobs: int = 40,
        seed: int = 0,
        *,
        speed: float = 1.0,
        median: float = 90.0,
        sigma: float = 0.6,
        fail_rate: float = 0.1,
        chaos: float = 0.0,
        retry_after: int = 2,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        spread: float = 0.0,
        video_size: int = VIDEO_SIZE,
        url_ttl: float | None = None,
        id_style: IdStyle = "asked",
        idle_close: float | None = None,
        close_delay: float = 0.0,
        models: Sequence[str] = (),
    ) -> None:
        """``jobs`` jobs to start with, their models drawn from :data:`MODELS` or, with
        ``models``, taken from it in turn (every family shows)."""
        if id_style not in ID_STYLES:
            raise ValueError(f"unknown id style {id_style!r}; one of {', '.join(ID_STYLES)}")
        self.seed = seed
        self.id_style: IdStyle = id_style  # the answer's id: the asked one, bare, upstream
        self.idle_close = idle_close  # close kept-alive connections idle this long (s)
        self.close_delay = close_delay  # ... the close reaching the client this much later
        self.video_size = video_size
        self.url_ttl = url_ttl  # seconds a video link stays valid (None: forever)
        self.video_rate: float | None = None  # bytes per second when set
        self.cut_video_after: int | None = None  # cut the next video download after N bytes
        self.rng = random.Random(seed)
        self.fault_rng = random.Random(seed + 1)
        self.speed = speed
        self.median = median
        self.sigma = sigma
        self.fail_rate = fail_rate
        self.chaos = chaos
        self.retry_after = retry_after
        self.slow_seconds = 2.0
        self.redirect_to: str | None = None  # where the "redirect" fault points
        self.api_key = (
            api_key or f"sk-sim-{seed:04d}-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]}"
        )
        self.clock = clock
        self.stats = Stats()
        self.create = CreateDesk()
        self.billing = BillingDesk(self, self._no_route)  # balance and request log
        self.jobs: dict[str, Job] = {}
        self.by_server_id: dict[str, Job] = {}
        self._faults: list[tuple[str, int]] = []
        self._t0 = clock()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.base_url = ""
        self._wall0 = datetime.now(UTC)
        for n in range(jobs):
            self.add_job(
                created=-self.rng.uniform(0, spread) if spread else 0.0,
                index=n,
                model=models[n % len(models)] if models else None,
            )

    # ------------------------------------------------------------------ jobs

    def now(self) -> float:
        """Simulated seconds since the simulator started."""
        return (self.clock() - self._t0) * self.speed

    def add_job(
        self,
        *,
        duration: float | None = None,
        queue_time: float | None = None,
        fails: bool | None = None,
        model: str | None = None,
        prompt: str | None = None,
        created: float | None = None,
        index: int | None = None,
        id_prefix: str | None = None,
        ratio: str = "",
        seconds: float = 0.0,
        orientation: str = "",
    ) -> str:
        rng = self.rng
        model = model or MODELS[rng.randrange(len(MODELS))]
        server_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        job_duration = (
            duration
            if duration is not None
            else rng.lognormvariate(math.log(self.median), self.sigma)
        )
        queue = queue_time if queue_time is not None else rng.expovariate(1 / 8.0)
        failing = fails if fails is not None else rng.random() < self.fail_rate
        job = Job(
            id=f"{id_prefix or model}:{server_id}",
            server_id=server_id,
            model=model,
            prompt=prompt
            or PROMPTS[(index if index is not None else rng.randrange(99)) % len(PROMPTS)],
            created=self.now() if created is None else created,
            queue_time=queue,
            duration=job_duration,
            fails=failing,
            fail_reason=FAIL_REASONS[rng.randrange(len(FAIL_REASONS))] if failing else "",
            ratio=ratio,
            seconds=seconds,
            orientation=orientation,
        )
        self.jobs[job.id] = job
        self.by_server_id[server_id] = job
        return job.id

    @property
    def job_ids(self) -> list[str]:
        return list(self.jobs)

    def expected(self, task_id: str) -> str:
        """The raw status the simulator reports for a job right now."""
        return self.jobs[task_id].status_at(self.now())[0]

    def all_finished(self) -> bool:
        now = self.now()
        return all(job.finishes_at <= now for job in self.jobs.values())

    def video_url(self, job: Job) -> str:
        """The job's video link; signed and expiring when ``url_ttl`` is set (like a CDN's)."""
        return self._link(f"/videos/{job.server_id}.mp4", job.server_id)

    def links(self, job: Job) -> Links:
        """Where the job's files are: its video, its video before upscaling, its still."""
        return Links(
            video=self.video_url(job),
            draft=self._link(f"/videos/{job.server_id}{DRAFT}.mp4", job.server_id + DRAFT),
            thumbnail=f"{self.base_url}/thumbnails/{job.server_id}.jpg",
        )

    def _link(self, path: str, name: str) -> str:
        url = f"{self.base_url}{path}"
        if self.url_ttl is None:
            return url
        expires = int(time.time() + self.url_ttl)
        return f"{url}?exp={expires}&sig={self._signature(name, expires)}"

    def _signature(self, name: str, expires: int) -> str:
        secret = f"{self.seed}:{self.api_key}:{name}:{expires}".encode()
        return hashlib.sha256(secret).hexdigest()[:16]

    def wall_time(self, sim_seconds: float) -> datetime:
        """The wall-clock moment of a simulated time (for ``status_update_time``)."""
        return self._wall0 + timedelta(seconds=sim_seconds / self.speed)

    # ------------------------------------------------------------------ faults

    def inject(self, kind: str, count: int = 1) -> None:
        """Answer the next ``count`` queries with fault ``kind``."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        self._faults.append((kind, count))

    def clear_faults(self) -> None:
        self._faults.clear()

    def _next_fault(self) -> str | None:
        kind = pop_fault(self._faults)
        if kind is not None:
            return kind
        if self.chaos and self.fault_rng.random() < self.chaos:
            kinds = list(CHAOS_WEIGHTS)
            kind = self.fault_rng.choices(kinds, weights=[CHAOS_WEIGHTS[k] for k in kinds])[0]
            if kind in AUTH_FAULTS:
                burst = self.fault_rng.randint(*AUTH_BURST)
                self._faults.insert(0, (kind, burst - 1))
            return kind
        return None

    # ------------------------------------------------------------------ HTTP

    def _body(self, job: Job, asked: str | None = None) -> dict[str, object]:
        """What a query for ``asked`` (default: the job's ID) answers right now."""
        return query_body(
            job,
            self.now(),
            asked=job.id if asked is None else asked,
            style=self.id_style,
            links=self.links(job),
            wall=self.wall_time,
        )

    def key_ok(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _query(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        self.stats.query_times.append(self.clock())
        if not self.key_ok(request):
            return self.answer_json(401, invalid_key_body())
        fault = self._next_fault()
        if fault is not None:
            self.stats.faults[fault] += 1
            answer = await self._fault(fault, request)
            if answer is not None:
                return answer
        task_id = request.query.get("id", "")
        job = self.jobs.get(task_id) or self.by_server_id.get(task_id)
        if job is None:
            return self.answer_json(400, not_found_body())  # new-api: 400 task_not_exist
        return self.answer_json(200, self._body(job, task_id))

    async def _fault(self, fault: str, request: web.Request) -> web.StreamResponse | None:
        auth = request.headers.get("Authorization", "")
        canned = canned_answer(fault, self.retry_after, auth)
        if canned is not None:
            status, body, content_type, headers, wait = canned
            if wait is not None:
                self.stats.retry_afters.append((self.clock(), wait))
            return self.answer_raw(status, body, content_type, headers)
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            return None  # then the normal answer
        if fault == "drop":  # the connection closes before any answer
            if request.transport is not None:
                request.transport.close()
            return self.answer_raw(500, b"", "text/plain")
        if fault == "reset":
            return await self._reset(request)
        if fault == "redirect":  # following this would hand the key to another host
            target = self.redirect_to or f"{self.base_url}/elsewhere"
            return self.answer_raw(302, b"", "text/plain", {"Location": target})
        return None

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        """Headers promise 400 bytes; the connection is cut after 30."""
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = 400
        await response.prepare(request)
        await response.write(b'{"id": "abc", "status": "proc')
        if request.transport is not None:
            request.transport.abort()
        return response

    async def _create(self, request: web.Request) -> web.StreamResponse:
        return await handle_create(self, request)  # checks, credit, load and faults

    async def _video(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"].removesuffix(".mp4")
        job = self.by_server_id.get(name.removesuffix(DRAFT))
        if job is None:
            return self.answer_raw(404, b"not found", "text/plain")
        now = self.now()
        if name.endswith(DRAFT):
            exists = job.family == "veo" and job.reached(now, "video_generation_completed")
        else:
            exists = job.status_at(now)[0] == "completed"
        if not exists:
            return self.answer_raw(404, b"not found", "text/plain")
        if "Authorization" in request.headers:
            # The video host must never see the API key.
            self.stats.key_sent_to_video_host += 1
        if self.url_ttl is not None:
            expires = request.query.get("exp", "")
            signature = request.query.get("sig", "")
            valid = expires.isdigit() and signature == self._signature(name, int(expires))
            if not valid or int(expires) < time.time():
                self.stats.expired_links += 1
                return self.answer_raw(
                    403, b"<Error>Request has expired</Error>", "application/xml"
                )
        self.stats.videos += 1
        # made the first time it is asked for (a few tenths of a second): off the loop
        data = await asyncio.to_thread(job.video, self.video_size, draft=name.endswith(DRAFT))
        etag = f'"{name}-{len(data)}"'
        header = request.headers.get("Range", "")
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range != etag:
            header = ""  # the client's part is of another version: send the whole video
        wanted = byte_range(len(data), header)
        if wanted is None:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
        start, end, status = wanted
        headers = {"Accept-Ranges": "bytes", "Content-Type": "video/mp4", "ETag": etag}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        body = data[start : end + 1]
        if self.cut_video_after is None and self.video_rate is None:
            return web.Response(status=status, body=body, headers=headers)
        return await self._stream_video(request, status, headers, body)

    async def _stream_video(
        self, request: web.Request, status: int, headers: dict[str, str], body: bytes
    ) -> web.StreamResponse:
        """Send the body in pieces: slowly (``video_rate`` bytes/s), or cut the connection
        after ``cut_video_after`` bytes (once), as a flaky network would."""
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        cut, self.cut_video_after = self.cut_video_after, None
        step = 32 * 1024
        for offset in range(0, len(body), step):
            piece = body[offset : offset + step]
            if cut is not None and offset + len(piece) > cut:
                await response.write(piece[: max(cut - offset, 0)])
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write(piece)
            if self.video_rate:
                await asyncio.sleep(len(piece) / self.video_rate)
        await response.write_eof()
        return response

    async def _control(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sim/fault {"kind": "429", "count": 3}`` — for driving a running simulator."""
        try:
            body = await request.json()
            self.inject(str(body["kind"]), int(body.get("count", 1)))
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            return self.answer_json(400, {"error": str(exc)})
        return self.answer_json(200, {"ok": True})

    async def _create_control(self, request: web.Request) -> web.StreamResponse:
        return await handle_control(self, request)

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return self.answer_json(
            200,
            {
                "requests": self.stats.requests,
                "by_status": dict(self.stats.by_status),
                "faults": dict(self.stats.faults),
                "jobs": len(self.jobs),
                "finished": sum(1 for j in self.jobs.values() if j.finishes_at <= self.now()),
                "idle_closes": self.stats.idle_closes,
                **self.create.stats(),
            },
        )

    def answer_json(
        self, status: int, body: object, headers: dict[str, str] | None = None
    ) -> web.Response:
        return self.answer_raw(
            status, json.dumps(body, ensure_ascii=False).encode(), "application/json", headers
        )

    def answer_raw(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.stats.by_status[status] += 1
        return web.Response(
            status=status, body=body, headers={"Content-Type": content_type, **(headers or {})}
        )

    # ------------------------------------------------------------------ lifecycle

    async def _thumbnail(self, request: web.Request) -> web.StreamResponse:
        """A finished grok job's still: a real JPEG of a frame of its video."""
        job = self.by_server_id.get(request.match_info["name"].removesuffix(".jpg"))
        if job is None or job.family != "grok" or job.status_at(self.now())[0] != "completed":
            return self.answer_raw(404, b"not found", "text/plain")
        if "Authorization" in request.headers:
            self.stats.key_sent_to_video_host += 1
        self.stats.thumbnails += 1
        return self.answer_raw(200, await asyncio.to_thread(job.still), "image/jpeg")

    async def _no_route(self, request: web.Request) -> web.StreamResponse:
        """Any other route: new-api's 404, answered before the key is looked at (a base
        URL ending in /v1 gets ``Invalid URL (GET /v1/v1/video/query)``)."""
        self.stats.requests += 1
        return self.answer_json(404, invalid_url_body(request.method, request.path))

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/video/query", self._query)
        app.router.add_post("/v1/video/create", self._create)
        app.router.add_get("/videos/{name}", self._video)
        app.router.add_get("/thumbnails/{name}", self._thumbnail)
        app.router.add_post("/_sim/fault", self._control)
        app.router.add_post("/_sim/create", self._create_control)
        app.router.add_get("/_sim/stats", self._stats)
        self.billing.routes(app)
        app.router.add_route("*", "/{tail:.*}", self._no_route)  # last: everything else
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = a free port); returns the base URL."""
        self._wall0 = datetime.now(UTC) - timedelta(seconds=self.now() / self.speed)
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        if self.idle_close is None:
            await web.TCPSite(runner, host, port, backlog=1024).start()
            bound = runner.addresses[0][1]
        else:
            idle, delay, handler = self.idle_close, self.close_delay, runner.server
            assert handler is not None

            def closed() -> None:
                self.stats.idle_closes += 1

            server = self._listener = await asyncio.get_running_loop().create_server(
                lambda: IdleClosing(handler(), idle, delay, closed), host, port, backlog=1024
            )
            bound = server.sockets[0].getsockname()[1]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._runner is not None:
            await self._runner.cleanup()  # closes the connections too
            self._runner = None
        if listener is not None:
            await listener.wait_closed()
