"""Gaussian mixtures over user profiles: fit, sweep over k (BIC / AIC), save / load without pickle.

BIC = -2 log L + p log n and AIC = -2 log L + 2 p, with p free parameters (scikit-learn's count);
lower is better. Because the curve on real genre profiles is jagged and its minimum moves with the
initialisation seed, ``sweep`` runs several seeds and reports, per k, the mean and spread of BIC, and
how often each k was the minimum: the choice is only as solid as that agreement.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

from .. import artifacts, threads
from ..errors import StudioError
from ..progress import emit
from .features import Profiles, ProfileSpec

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
MAX_K = 50
FIT_THREADS: int | None = 1     # BLAS / OpenMP threads per fit (None: the libraries' defaults)


@dataclass(frozen=True)
class GMMSpec:
    covariance_type: str = "diag"
    n_init: int = 3
    reg_covar: float = 1e-3
    max_iter: int = 300

    def __post_init__(self):
        if self.covariance_type not in COVARIANCE_TYPES:
            raise StudioError(f"covariance type must be one of {', '.join(COVARIANCE_TYPES)}")
        if self.n_init < 1 or self.reg_covar <= 0:
            raise StudioError("n_init must be >= 1 and reg_covar > 0")


def check_k(k: int, n_samples: int) -> int:
    k = int(k)
    if not 1 <= k <= min(MAX_K, n_samples):
        raise StudioError(f"number of components must be between 1 and {min(MAX_K, n_samples)}, got {k}")
    return k


def fit(X: np.ndarray, k: int, spec: GMMSpec = GMMSpec(), seed: int = 0) -> GaussianMixture:
    check_k(k, len(X))
    gm = GaussianMixture(n_components=k, covariance_type=spec.covariance_type, n_init=spec.n_init,
                         reg_covar=spec.reg_covar, max_iter=spec.max_iter, random_state=seed)
    with threads.limited(FIT_THREADS):
        gm.fit(X)
    return gm


@dataclass
class Sweep:
    ks: list[int]
    seeds: list[int]
    bic: np.ndarray              # seeds x ks
    aic: np.ndarray
    seconds: float
    spec: dict = field(default_factory=dict)

    @property
    def best_k_per_seed(self) -> list[int]:
        return [self.ks[i] for i in self.bic.argmin(1)]

    @property
    def best_k(self) -> int:
        """k with the lowest mean BIC over seeds."""
        return self.ks[int(self.bic.mean(0).argmin())]

    @property
    def agreement(self) -> float:
        """Share of seeds whose own BIC minimum is ``best_k``."""
        return self.best_k_per_seed.count(self.best_k) / len(self.seeds)

    def table(self):
        import pandas as pd

        return pd.DataFrame({"k": self.ks, "bic_mean": self.bic.mean(0), "bic_min": self.bic.min(0),
                             "bic_max": self.bic.max(0), "aic_mean": self.aic.mean(0),
                             "times_best": [self.best_k_per_seed.count(k) for k in self.ks]})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bic"], d["aic"] = self.bic.tolist(), self.aic.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Sweep":
        return cls(d["ks"], d["seeds"], np.asarray(d["bic"]), np.asarray(d["aic"]), d["seconds"], d.get("spec", {}))


def data_key(X: np.ndarray, *parts) -> str:
    h = hashlib.sha256(np.ascontiguousarray(X, np.float64).tobytes())
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def sweep(X: np.ndarray, ks=range(1, 26), spec: GMMSpec = GMMSpec(), seeds=(0, 1, 2, 3, 4),
          progress=None, on_fit=None) -> Sweep:
    """Fit every k for every seed; BIC / AIC per (seed, k).

    ``progress`` (``core.progress``) hears of each fit; ``on_fit(seed, k, gmm)`` receives each fitted
    mixture (to save the models without fitting them again).
    """
    ks = [check_k(k, len(X)) for k in ks]

    def one(k, seed):
        gm = fit(X, k, spec, seed)
        return gm.bic(X), gm.aic(X), gm

    return sweep_with(one, ks, seeds, asdict(spec), progress, on_fit)


def sweep_with(fit_one, ks, seeds, spec: dict, progress=None, on_fit=None, label: str = "") -> Sweep:
    """The sweep loop any backend shares: ``fit_one(k, seed) -> (bic, aic, fitted)`` for every seed and
    k, ``on_fit(seed, k, fitted)`` and a ``progress`` event (phase ``fits``) after each."""
    ks, seeds = [int(k) for k in ks], [int(s) for s in seeds]
    if not ks or not seeds:
        raise StudioError("a sweep needs at least one k and one seed")
    start = time.perf_counter()
    bic = np.zeros((len(seeds), len(ks)))
    aic = np.zeros_like(bic)
    steps = [(i, j) for i in range(len(seeds)) for j in range(len(ks))]
    for n, (i, j) in enumerate(steps):
        bic[i, j], aic[i, j], fitted = fit_one(ks[j], seeds[i])
        if on_fit is not None:
            on_fit(seeds[i], ks[j], fitted)
        emit(progress, "fits", n + 1, len(steps), f"k = {ks[j]}, seed {seeds[i]}{label}")
    return Sweep(ks, seeds, bic, aic, time.perf_counter() - start, spec)


# ----------------------------------------------------------------------------- a fitted model
@dataclass
class ClusterModel:
    """A fitted mixture plus what is needed to use it again: the profile spec, genres and scaling."""

    gmm: GaussianMixture
    genres: list[str]
    profile_spec: ProfileSpec
    gmm_spec: GMMSpec
    center: np.ndarray
    scale: np.ndarray
    seed: int = 0
    card: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return self.gmm.n_components

    def responsibilities(self, profiles: Profiles) -> np.ndarray:
        self._check(profiles)
        return self.gmm.predict_proba(profiles.values)

    def predict(self, profiles: Profiles) -> np.ndarray:
        self._check(profiles)
        return self.gmm.predict(profiles.values)

    def _check(self, profiles: Profiles) -> None:
        if profiles.genres != self.genres or profiles.spec != self.profile_spec:
            raise StudioError("these profiles were built differently from the ones the model was fitted on")

    def save(self, stem, extra_card: dict | None = None) -> Path:
        g = self.gmm
        arrays = {"weights": g.weights_, "means": g.means_, "covariances": g.covariances_,
                  "precisions_cholesky": g.precisions_cholesky_, "center": self.center, "scale": self.scale}
        card = {"k": self.k, "genres": self.genres, "profile": self.profile_spec.to_dict(),
                "gmm": asdict(self.gmm_spec), "seed": self.seed, "converged": bool(g.converged_),
                "lower_bound": float(g.lower_bound_), **self.card, **(extra_card or {})}
        return artifacts.save_arrays(stem, arrays, card, kind="gmm-clusters")

    @classmethod
    def load(cls, stem) -> "ClusterModel":
        a, card = artifacts.load_arrays(stem, kind="gmm-clusters")
        try:
            gspec = GMMSpec(**card["gmm"])
            gm = fitted_mixture(a["weights"], a["means"], a["covariances"], a["precisions_cholesky"],
                                gspec.covariance_type, converged=card["converged"], lower_bound=card["lower_bound"],
                                reg_covar=gspec.reg_covar, n_init=gspec.n_init, random_state=card["seed"])
            if gm.n_components != int(card["k"]) or gm.means_.shape != (gm.n_components, len(card["genres"])):
                raise ValueError("array shapes do not match the card")
            return cls(gm, list(card["genres"]), ProfileSpec(**card["profile"]), gspec, a["center"], a["scale"],
                       int(card["seed"]), card)
        except (KeyError, TypeError, ValueError) as exc:
            raise artifacts.ArtifactError(f"{stem}: the model card does not match its model ({exc})") from None


def fitted_mixture(weights, means, covariances, precisions_cholesky, covariance_type: str = "full",
                   converged: bool = True, lower_bound: float = 0.0, **params) -> GaussianMixture:
    """A scikit-learn ``GaussianMixture`` in the fitted state, from its parameters (a saved model, or a
    mixture fitted elsewhere, e.g. by Spark): ``predict`` / ``score_samples`` / ``bic`` work on it."""
    means = np.asarray(means, np.float64)
    gm = GaussianMixture(n_components=len(means), covariance_type=covariance_type, **params)
    gm.weights_, gm.means_ = np.asarray(weights, np.float64), means
    gm.covariances_, gm.precisions_cholesky_ = covariances, precisions_cholesky
    gm.precisions_ = _precisions(precisions_cholesky, covariance_type)
    gm.converged_, gm.n_iter_, gm.lower_bound_, gm.n_features_in_ = converged, 0, lower_bound, means.shape[1]
    return gm


def _precisions(chol: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", chol, chol)
    if covariance_type == "tied":
        return chol @ chol.T
    return chol ** 2


def fit_model(profiles: Profiles, k: int, spec: GMMSpec = GMMSpec(), seed: int = 0) -> ClusterModel:
    return wrap(fit(profiles.values, k, spec, seed), profiles, spec, seed)


def wrap(gm: GaussianMixture, profiles: Profiles, spec: GMMSpec, seed: int) -> ClusterModel:
    return ClusterModel(gm, list(profiles.genres), profiles.spec, spec, profiles.center, profiles.scale, seed,
                        {"users": int(len(profiles.users)), "bic": float(gm.bic(profiles.values))})
