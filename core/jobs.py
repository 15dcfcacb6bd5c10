"""Long work in the background: every training, preparation or evaluation started from a page runs as a
*job*, a process of its own with a record on disk beside the models, so it survives the page that
started it, the visitor leaving, a reload, and shows the same live state to every visitor.

A record (``<model dir>/jobs/<id>.json``, written atomically; the process's output in ``<id>.log``)
says what runs (``kind``, ``title``, ``settings``), its ``state`` (queued, running, done, failed,
cancelled, interrupted), its progress (phase, done, total, message, and the overall fraction), when it
started and finished, the expected time, and its result (the model it saved) or the reason it failed.

* ``submit(kind, settings, key, title)`` starts one, unless a job of the same ``key`` (a system and a
  dataset) is queued or running: then that one is returned (``attached``), never a second.
* ``cancel(id)`` stops the process (its whole process group); a model being saved is finished first
  (``artifacts.whole``), so no half-written model is left; caches of finished work are kept.
* A job whose process is gone without a final state (the machine restarted, the process was killed) is
  ``interrupted``; ``resume(id)`` starts it again from its checkpoints and caches.
* The process runs ``python -m core.jobs run ID``; what each kind does is registered with ``@kind``
  (``core/job_kinds.py``). ``$STUDIO_JOBS=inline`` runs jobs in the caller's thread instead (the pages'
  AppTests, which patch what a job calls).

Everything is the standard library: processes, signals, file locks and JSON files; no broker, no second
server. ``python -m core jobs`` lists recent jobs; ``python -m core jobs cancel ID`` stops one.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import artifacts, config
from .errors import StudioError

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
KINDS: dict = {}            # kind -> (function(settings, progress, resume) -> result dict, phases(settings))
LOG_LINES = 20
WRITE_EVERY_S = 0.5         # progress is written at most this often (and at every change of phase)


def kind(name: str, phases: dict | None = None):
    """Register what a job of kind ``name`` does: ``fn(settings, progress, resume) -> result`` (a JSON-able
    dict, e.g. ``{"model": stem, "summary": words}``); ``phases(settings)``: the shares of one bar per
    phase (``progress.Phases``) for the overall fraction (None: the events' own fraction)."""
    def register(fn):
        KINDS[name] = (fn, phases)
        return fn
    return register


class Cancelled(BaseException):
    """Raised in a job's process when it is cancelled (SIGTERM); not an ``Exception``, so no handler
    of the work itself swallows it."""


@dataclass
class Job:
    id: str
    kind: str
    key: str
    title: str
    settings: dict
    state: str = "queued"
    phase: str = ""
    done: float = 0.0
    total: float = 0.0
    fraction: float = 0.0
    message: str = ""
    created: str = ""
    started: str | None = None
    finished: str | None = None
    started_at: float | None = None          # time.time(), for the elapsed time
    finished_at: float | None = None
    expected_s: float | None = None
    pid: int | None = None
    result: dict | None = None
    error: str | None = None
    resumed_from: str | None = None
    attached: bool = field(default=False, compare=False)   # returned by submit for a job already running

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("attached")
        return d


def folder(model_dir=None) -> Path:
    path = Path(config.model_dir(model_dir)) / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _path(job_id: str, model_dir=None) -> Path:
    if not job_id or not all(c.isalnum() or c == "-" for c in job_id):
        raise StudioError(f"no such job: {job_id!r}")
    return folder(model_dir) / f"{job_id}.json"


def _read(path: Path) -> Job | None:
    try:
        d = json.loads(path.read_text())
        return Job(**{k: v for k, v in d.items() if k in Job.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None                        # being replaced, or not a job record: skipped


def _write(job: Job, model_dir=None) -> None:
    artifacts.atomic_write_json(_path(job.id, model_dir), job.to_dict())


def log_path(job_id: str, model_dir=None) -> Path:
    return _path(job_id, model_dir).with_suffix(".log")


def log_tail(job_id: str, lines: int = LOG_LINES, model_dir=None) -> list[str]:
    try:
        text = log_path(job_id, model_dir).read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.replace("\r", "\n").splitlines() if line.strip()][-lines:]


# ----------------------------------------------------------------------------- processes
_CHILDREN: dict[int, subprocess.Popen] = {}     # jobs this process started (reaped here, never zombies)


def _alive(job: Job) -> bool:
    if job.pid is None:
        return False
    child = _CHILDREN.get(job.pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(job.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:                                   # the pid may have been reused: it must be this job's process
        cmdline = Path(f"/proc/{job.pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{job.pid}/stat").read_text()
    except OSError:
        return True                        # no /proc: trust the signal
    return job.id in cmdline and ") Z " not in stat


def refresh(job: Job, model_dir=None) -> Job:
    """A queued or running job whose process is gone is marked interrupted (on disk too)."""
    if job.active and not _alive(job) and not (job.pid is None and job.state == "queued" and _young(job)):
        latest = get(job.id, model_dir, refresh_state=False)
        if latest is not None and latest.active:
            latest.state, latest.finished, latest.finished_at = "interrupted", artifacts.now(), time.time()
            latest.error = "the job's process stopped before it finished (the machine restarted, or it was killed)"
            _write(latest, model_dir)
            return latest
        return latest or job
    return job


def _young(job: Job) -> bool:
    """A record written a moment ago whose process is still being started."""
    try:
        import datetime as dt

        return (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(job.created)).total_seconds() < 30
    except ValueError:
        return False


def get(job_id: str, model_dir=None, refresh_state: bool = True) -> Job | None:
    job = _read(_path(job_id, model_dir))
    return refresh(job, model_dir) if job is not None and refresh_state else job


def recent(limit: int = 20, model_dir=None) -> list[Job]:
    """The latest jobs, newest first (state refreshed)."""
    paths = sorted(folder(model_dir).glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    jobs = [j for j in (_read(p) for p in paths[:limit]) if j is not None]
    return [refresh(j, model_dir) for j in jobs]


def active(model_dir=None) -> list[Job]:
    return [j for j in recent(200, model_dir) if j.active]


def submit(kind_name: str, settings: dict, key: str, title: str, expected_s: float | None = None,
           model_dir=None, resumed_from: str | None = None) -> Job:
    """Start a job (or return the queued / running one of the same ``key``, ``attached=True``)."""
    if kind_name not in KINDS:
        from . import job_kinds  # noqa: F401  (registers the kinds)
    if kind_name not in KINDS:
        raise StudioError(f"unknown job kind '{kind_name}'")
    with artifacts.exclusive_wait(folder(model_dir) / ".submit.lock"):
        for job in active(model_dir):
            if job.key == key:
                job.attached = True
                return job
        job = Job(uuid.uuid4().hex[:12], kind_name, key, title, settings, created=artifacts.now(),
                  expected_s=expected_s, resumed_from=resumed_from)
        _write(job, model_dir)
    if os.environ.get("STUDIO_JOBS") == "inline":
        run(job.id, model_dir, inline=True)
        return get(job.id, model_dir)
    env = {**os.environ, config.ENV_MODEL_DIR: str(config.model_dir(model_dir))}
    with open(log_path(job.id, model_dir), "ab") as log:
        child = subprocess.Popen([sys.executable, "-m", "core.jobs", "run", job.id], cwd=config.PROJECT_ROOT, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)       # its own process group: cancel stops it all
    _CHILDREN[child.pid] = child
    latest = get(job.id, model_dir, refresh_state=False)
    if latest is not None and latest.pid is None and latest.state == "queued":
        latest.pid = child.pid
        _write(latest, model_dir)
    return get(job.id, model_dir) or job


def resume(job_id: str, model_dir=None) -> Job:
    """An interrupted, failed or cancelled job started again with the same settings, from its checkpoints
    and caches."""
    job = get(job_id, model_dir)
    if job is None:
        raise StudioError(f"no such job: {job_id}")
    if job.active:
        return job
    return submit(job.kind, job.settings, job.key, job.title, job.expected_s, model_dir, resumed_from=job.id)


def cancel(job_id: str, model_dir=None, wait_s: float = 30.0) -> Job:
    """Stop a queued or running job and wait (up to ``wait_s``) for its process to end; a process that
    does not end is killed. The record says cancelled."""
    job = get(job_id, model_dir)
    if job is None:
        raise StudioError(f"no such job: {job_id}")
    if not job.active:
        return job
    if job.pid is not None and _alive(job):
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + wait_s
        while _alive(job) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(job):
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            while _alive(job):
                time.sleep(0.1)
    latest = get(job_id, model_dir, refresh_state=False) or job
    if latest.state != "cancelled":
        latest.state, latest.finished, latest.finished_at = "cancelled", artifacts.now(), time.time()
        latest.error = "cancelled"
        _write(latest, model_dir)
    return latest


def wait(job_id: str, model_dir=None, timeout_s: float = 3600.0) -> Job:
    """Block until the job ends (tests, the CLI); a job still running after ``timeout_s`` is returned as it is."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = get(job_id, model_dir)
        if job is None or not job.active or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


# ----------------------------------------------------------------------------- the job's own process
def run(job_id: str, model_dir=None, inline: bool = False) -> int:
    """Do the job (in its own process, or ``inline`` in the caller's thread), keeping its record."""
    from . import job_kinds  # noqa: F401  (registers the kinds)
    from .progress import Phases

    job = get(job_id, model_dir, refresh_state=False)
    if job is None:
        raise StudioError(f"no such job: {job_id}")
    fn, phases = KINDS[job.kind]
    phases = phases(job.settings) if phases else None
    job.state, job.started, job.started_at = "running", artifacts.now(), time.time()
    job.pid = job.pid if inline else os.getpid()
    _write(job, model_dir)
    last = {"t": 0.0, "phase": ""}

    def report(fraction: float, text: str, event=None) -> None:
        job.fraction = max(job.fraction, min(1.0, float(fraction)))
        job.message = text[:300]
        if event is not None:
            job.phase, job.done, job.total = event.phase, float(event.done), float(event.total)
        now = time.monotonic()
        if now - last["t"] >= WRITE_EVERY_S or job.phase != last["phase"]:
            last.update(t=now, phase=job.phase)
            _write(job, model_dir)

    bar = Phases(phases, lambda fraction, text: report(fraction, text)) if phases else None

    def progress(event) -> None:
        if bar is not None:
            bar(event)
        report(job.fraction if bar is not None else event.fraction, event.message, event)

    if not inline:
        try:
            os.nice(10)                # background work yields the cores to the visitors' pages
        except OSError:
            pass

        def on_term(signum, frame):
            def raise_it():
                raise Cancelled()
            artifacts.interrupt(raise_it)
        signal.signal(signal.SIGTERM, on_term)
    try:
        job.result = fn(job.settings, progress, bool(job.resumed_from)) or {}
        job.state, job.fraction = "done", 1.0
    except Cancelled:
        job.state, job.error = "cancelled", "cancelled"
    except StudioError as exc:
        job.state, job.error = "failed", str(exc)
    except Exception as exc:                       # a bug: the reason in one line, the traceback in the log
        import traceback

        traceback.print_exc()
        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
    job.finished, job.finished_at = artifacts.now(), time.time()
    _write(job, model_dir)
    return 0 if job.state == "done" else 1


def table(jobs: list[Job]) -> str:
    """Recent jobs for the command line, one line each."""
    from .wording import minutes

    if not jobs:
        return "no jobs yet"
    lines = []
    for j in jobs:
        progress = f"{j.fraction:.0%}" if j.active else (j.error or (j.result or {}).get("summary", ""))
        lines.append(f"{j.id}  {j.state:<11}  {j.created[:16].replace('T', ' ')}  {minutes(j.elapsed_s):>12}  "
                     f"{j.title}  {progress}".rstrip())
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m core.jobs run ID`` (a job's process)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "run":
        print("usage: python -m core.jobs run ID (started by the studio; see python -m core jobs)", file=sys.stderr)
        return 2
    return run(args[1])


if __name__ == "__main__":
    from core import cli
    from core import jobs as this  # the module the kinds register with, not this __main__ copy

    sys.exit(cli.run(this.main))
