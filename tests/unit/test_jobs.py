"""Background jobs (core.jobs) with real processes: the lifecycle, one job per key, cancel without a
half-written model or a stray process, an interrupted job resumed from its checkpoint, the CLI."""
import os
import signal

import pytest

from core import __main__ as core_cli
from core import cli, jobs
from core.datasets import catalog


@pytest.fixture
def process_jobs(monkeypatch, tmp_path, demo_dir):
    """Jobs as processes (the suite runs them inline elsewhere), in a model folder of their own."""
    monkeypatch.setenv("STUDIO_JOBS", "process")
    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path / "models"))
    source = catalog.Source("reid", demo_dir / "VIPeR", True, name="demo")
    from core.job_kinds import dataset_settings

    return tmp_path / "models", dataset_settings(source)


def settings(dataset, stem, **config) -> dict:
    return {"dataset": dataset, "split": "course", "config": config, "stem": str(stem)}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")        # exited, not yet reaped


def test_a_job_runs_in_its_own_process_and_a_second_request_attaches_to_it(process_jobs, capsys):
    models, dataset = process_jobs
    stem = models / "reid-lomo-xqda-demo-course"
    first = jobs.submit("reid-train", settings(dataset, stem, method="lomo-xqda"), "reid:demo", "LOMO + XQDA")
    again = jobs.submit("reid-train", settings(dataset, stem, method="lomo-xqda"), "reid:demo", "LOMO + XQDA")
    assert again.attached and again.id == first.id and first.pid != os.getpid()
    assert [j.id for j in jobs.active()] == [first.id]
    done = jobs.wait(first.id, timeout_s=600)
    assert done.state == "done", (done.error, jobs.log_tail(first.id))
    assert done.fraction == 1.0 and done.result["model"] == str(stem) and "Rank-1" in done.result["summary"]
    assert stem.with_name(stem.name + ".json").is_file() and done.started and done.finished
    assert done.elapsed_s > 0 and not jobs.active()
    assert cli.run(core_cli.main, ["jobs"]) == 0
    assert f"{first.id}  done" in capsys.readouterr().out
    # a job that fails says why in words, and the next request starts a new job
    bad = jobs.wait(jobs.submit("reid-train", {**settings(dataset, stem, method="lomo-xqda"), "split": "nope"},
                                "reid:demo", "bad split").id, timeout_s=600)
    assert bad.state == "failed" and "nope" in bad.error and bad.id != first.id


def past_epoch(job_id, n):
    """The job's record once its training has passed epoch ``n`` (it must still be running)."""
    import time

    while True:                                   # bounded by the test's own timeout, not by a clock
        j = jobs.get(job_id)
        assert j.active, (j.state, j.error, jobs.log_tail(job_id))
        if j.phase == "epochs" and j.done >= n:
            return j
        time.sleep(0.2)


def test_an_interrupted_job_is_said_so_and_resumes_from_its_checkpoint(process_jobs):
    from core import checkpoint

    models, dataset = process_jobs
    stem = models / "reid-course-demo-course"
    network = dict(method="course", epochs=8, steps_per_epoch=2, triplets_per_batch=32)
    job = jobs.submit("reid-train", settings(dataset, stem, **network), "reid:demo", "course network")
    running = past_epoch(job.id, 2)
    os.killpg(running.pid, signal.SIGKILL)          # the machine goes down: no final state written
    while (interrupted := jobs.get(job.id)).state == "running":
        pass                                        # until its process is gone (the test's timeout bounds it)
    assert interrupted.state == "interrupted" and "stopped before it finished" in interrupted.error
    saved_epoch = checkpoint.info(stem)["epoch"]
    assert saved_epoch >= 1
    resumed = jobs.resume(job.id)
    assert resumed.id != job.id and resumed.resumed_from == job.id
    done = jobs.wait(resumed.id, timeout_s=900)
    assert done.state == "done", (done.error, jobs.log_tail(resumed.id))
    assert done.result["resumed_from_epoch"] >= saved_epoch


def test_cancel_leaves_no_model_and_no_process_and_keeps_the_checkpoint(process_jobs, capsys):
    from core import checkpoint

    models, dataset = process_jobs
    stem = models / "reid-course-demo-course"
    network = dict(method="course", epochs=500, steps_per_epoch=2, triplets_per_batch=32)
    job = jobs.submit("reid-train", settings(dataset, stem, **network), "reid:demo", "course network")
    running = past_epoch(job.id, 1)
    assert cli.run(core_cli.main, ["jobs", "cancel", job.id]) == 0
    assert "cancelled" in capsys.readouterr().out
    cancelled = jobs.get(job.id)
    assert cancelled.state == "cancelled" and gone(running.pid)
    assert not any(stem.parent.glob(stem.name + ".*")), list(stem.parent.iterdir())      # no model at all
    assert checkpoint.info(stem) is not None                                             # finished epochs kept
    assert cli.run(core_cli.main, ["jobs", "cancel", "no-such-job"]) == 2
    assert "no such job" in capsys.readouterr().err
