"""What each kind of background job does (``core.jobs``): training a re-ID or an attribute model and
preparing the recommended models. Each takes JSON-able settings (the dataset named by its source, the
training configuration as a dict, where to save) so that its own process can do it, and returns the
saved model and a sentence about it."""
from __future__ import annotations

from pathlib import Path

from . import artifacts
from .jobs import kind


def dataset_settings(source) -> dict:
    """A ``catalog.Source`` as job settings (``load_dataset`` reads it back)."""
    return {"kind": source.kind, "path": str(source.path), "is_demo": bool(source.is_demo), "layout": source.layout,
            "name": source.name}


def load_dataset(settings: dict):
    from .datasets import catalog

    return catalog.load(catalog.Source(settings["kind"], Path(settings["path"]), settings["is_demo"],
                                       layout=settings.get("layout", ""), name=settings.get("name", "")))


def _reid_phases(settings: dict) -> dict:
    from .reid.train import PHASES

    return PHASES


def _attribute_phases(settings: dict) -> dict:
    from .attributes.train import phases

    return phases(settings.get("epochs", 0) > 0)


@kind("reid-train", phases=_reid_phases)
def reid_train(settings: dict, progress, resume: bool) -> dict:
    """``{"dataset", "split", "config" (TrainConfig), "stem"}``; a network resumes from its last epoch."""
    from .reid import protocols
    from .reid import train as T

    ds = load_dataset(settings["dataset"])
    split = protocols.parse_split(ds, settings["split"])
    cfg = T.TrainConfig(**settings["config"])
    with artifacts.training_lock("reid", Path(settings["stem"]).parent):
        model, result = T.train_and_save(ds, split, cfg, Path(settings["stem"]), progress,
                                         resume=resume or settings.get("resume", False))
    return {"model": settings["stem"], "summary": f"Rank-1 {result.rank(1):.1%} on {split.name}",
            "resumed_from_epoch": model.card.get("resumed_from_epoch")}


@kind("attributes-train", phases=_attribute_phases)
def attributes_train(settings: dict, progress, resume: bool) -> dict:
    """``{"dataset", "config" (AttrConfig), "epochs" (fine-tuning, 0 = heads), "stem"}``; features come
    from (and go to) the cache, so a resumed run skips what was extracted."""
    from .attributes import train as A

    ds = load_dataset(settings["dataset"])
    cfg = A.AttrConfig(**settings["config"])
    with artifacts.training_lock("attributes", Path(settings["stem"]).parent):
        _, report = A.train_and_save(ds, cfg, Path(settings["stem"]), settings.get("epochs", 0), progress=progress)
    return {"model": settings["stem"], "summary": f"mA {report['summary']['mA']:.1%} on the test images"}


@kind("prepare")
def prepare_models(settings: dict, progress, resume: bool) -> dict:
    """``{"settings" (prepare.Settings), "systems"}``: the recommended models, each kept when it exists."""
    from . import prepare

    rows = prepare.run(prepare.Settings(**settings["settings"]), settings["systems"], progress=progress)
    failed = [f"{r.title}: {r.note}" for r in rows if r.state != "ready"]
    if failed:
        from .errors import StudioError

        raise StudioError("; ".join(failed))
    return {"summary": ", ".join(f"{r.title} ready" for r in rows)}


@kind("clustering-fit")
def clustering_fit(settings: dict, progress, resume: bool) -> dict:
    """``{"dataset", "profile" (ProfileSpec), "gmm" (GMMSpec), "ks", "seeds", "cache_dir"}``: the sweep of
    mixtures (kept when it exists) and the recommender's weights for every k, so the slider is ready
    at any k."""
    from .clustering import pipeline
    from .clustering.features import ProfileSpec, user_profiles
    from .clustering.gmm import GMMSpec
    from .progress import scaled

    ml = load_dataset(settings["dataset"])
    profiles = user_profiles(ml.ratings, ml.movies, ProfileSpec(**settings["profile"]))
    ks, seeds, spec = list(settings["ks"]), tuple(settings["seeds"]), GMMSpec(**settings["gmm"])
    folder = pipeline.sweep_folder(settings["cache_dir"], profiles, ks, seeds, spec)
    with artifacts.training_lock("clustering", settings.get("model_dir")):
        sweep = pipeline.run_sweep(profiles, folder, ks, seeds, spec, progress=scaled(progress, 0.0, 0.4, "fits"))
        pipeline.prepare_hybrids(ml, folder, ks, profiles, progress=scaled(progress, 0.4, 1.0, "recommender"))
    return {"summary": f"BIC-best k = {sweep.best_k}; the recommender ready for k = {ks[0]} to {ks[-1]}"}
