"""The live panel of a background job (``core.jobs``) on a page: elapsed time, phase, progress, the
expected time and Cancel while it runs (refreshed every second, whoever started it, whichever page it
was started from); what it saved, why it failed or Resume once it ended."""
from __future__ import annotations

import streamlit as st

from core import jobs, wording

SEEN = "jobs_seen"          # session state: the jobs whose end this session has been shown and rerun for


def key(system: str, data_root) -> str:
    """At most one job per system and dataset."""
    return f"{system}:{data_root}"


def start(kind: str, settings: dict, job_key: str, title: str, expected_s: float | None = None) -> jobs.Job:
    """Submit (or attach to the running job of the same key) and remember it for this session's panel."""
    job = jobs.submit(kind, settings, job_key, title, expected_s)
    st.session_state.setdefault("jobs_mine", {})[job_key] = job.id
    if job.attached:
        st.info(f"{job.title} was already running (started {job.created[11:16]} UTC): showing it here. Cancel it "
                "first to start another.")
    return job


RECENT_S = 300              # a job that ended this recently is shown to every visitor, not only its starter


def current(job_key: str) -> jobs.Job | None:
    """The queued or running job of this key (anyone's), else the last one this session started, else one
    that ended in the last ``RECENT_S`` seconds (anyone's: "a model was just trained")."""
    import time

    recent = [j for j in jobs.recent(50) if j.key == job_key]
    for job in recent:
        if job.active:
            return job
    mine = st.session_state.get("jobs_mine", {}).get(job_key)
    if mine:
        return jobs.get(mine)
    return next((j for j in recent if j.finished_at and time.time() - j.finished_at < RECENT_S), None)


def panel(job_key: str) -> None:
    """The panel of ``current(job_key)``, live while the job runs; nothing when there is none."""
    job = current(job_key)
    if job is None:
        return
    if not job.active:
        _ended(job)
        return

    @st.fragment(run_every=1.0)
    def live():
        now = jobs.get(job.id)
        if now is None:
            return
        if not now.active:
            st.rerun()                 # the whole page: the model lists, the panel's end state
        _running(now)

    live()


def _running(job: jobs.Job) -> None:
    with st.container(border=True):
        st.markdown(f"**{job.title}** · {job.state}")
        st.progress(min(1.0, job.fraction), text=(job.message or "starting…")[:150])
        expected = f" of about {wording.minutes(job.expected_s).removeprefix('about ')} expected" \
            if job.expected_s else ""
        st.caption(f"Running for {wording.minutes(job.elapsed_s).removeprefix('about ')}{expected}. It goes on in "
                   "the background when you leave this page or reload it, and every visitor sees it here and on the "
                   "home page.")
        if st.button("Cancel", key=f"cancel_{job.id}", icon=":material/stop_circle:"):
            jobs.cancel(job.id)
            st.rerun()


def _ended(job: jobs.Job) -> None:
    took = f" in {wording.minutes(job.elapsed_s)}" if job.elapsed_s else ""
    if job.state == "done":
        model = (job.result or {}).get("model")
        name = model.rsplit("/", 1)[-1] if model else ""
        summary = (job.result or {}).get("summary", "")
        st.success(f"Trained and saved {name}: {summary}{took}." if name else f"{job.title}: done{took}. {summary}")
    elif job.state == "failed":
        st.error(f"{job.title} failed: {job.error}")
    elif job.state == "cancelled":
        st.info(f"{job.title} was cancelled; nothing half-written was kept. Features already computed are "
                "cached, so starting it again goes faster.")
    elif job.state == "interrupted":
        st.warning(f"{job.title} stopped before it finished ({job.error}). Resume continues from what it had "
                   "saved (its last epoch, its cached features).")
        if st.button("Resume", key=f"resume_{job.id}", icon=":material/play_circle:"):
            new = jobs.resume(job.id)
            st.session_state.setdefault("jobs_mine", {})[job.key] = new.id
            st.rerun()


def running_list() -> None:
    """Every queued or running job, for the home page, live while there is one (no refreshing, and no
    cost per visitor, when nothing runs)."""
    if not jobs.active() and not st.session_state.get("home_running"):
        return

    @st.fragment(run_every=2.0)
    def live():
        running = jobs.active()
        ids = {j.id for j in running}
        ended = st.session_state.get("home_running", set()) - ids
        st.session_state["home_running"] = ids
        if ended:
            st.rerun()                 # a job ended: the whole page, so its system's card says Ready
        if not running:
            return
        with st.container(border=True):
            st.markdown(f"**{len(running)} job{'s' if len(running) != 1 else ''} running in the background**")
            for job in running:
                st.progress(min(1.0, job.fraction),
                            text=f"{job.title} · {wording.minutes(job.elapsed_s).removeprefix('about ')} so far · "
                                 f"{(job.message or job.state)[:100]}")
    live()
