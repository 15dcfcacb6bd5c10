"""The Spark backend: genre profiles and Gaussian mixtures for ratings too big for one process.

``pyspark`` is an optional dependency (``requirements-scale.txt``) and needs Java 17+. Profiles are
computed with Spark SQL from ratings in CSV or Parquet (the same three kinds and scaling as
``features.user_profiles``); each k is fitted with ``pyspark.ml.clustering.GaussianMixture``. Spark's
mixture has full covariances only, no ``n_init`` (the best of ``n_init`` seeds is kept here) and no
covariance regularisation; it also reports no BIC, so BIC and AIC are computed from the summary's
log-likelihood and the full-covariance parameter count, k d + k d (d + 1) / 2 + k - 1, as scikit-learn
counts them. Fitted mixtures are converted to scikit-learn ``GaussianMixture`` objects and saved in the
project's npz + JSON format, so the app, the recommender and ``ClusterModel.load`` use them unchanged.

Local mode (``local[*]``, bound to 127.0.0.1) runs on this machine's cores; a cluster URL
(``spark://host:7077``, ``yarn``) spreads the same job over many machines.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from ..errors import DataError, StudioError
from .features import ProfileSpec, genre_matrix
from .gmm import MAX_K, GMMSpec, Sweep, fitted_mixture, sweep_with

RATINGS_SCHEMA = "userId INT, movieId INT, rating DOUBLE, timestamp LONG"


def _pyspark():
    try:
        import pyspark  # noqa: F401 (only checks that it is installed)
    except ImportError:
        raise StudioError("the Spark backend needs pyspark: pip install -r requirements-scale.txt") from None
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise StudioError("the Spark backend needs Java 17 or newer (Debian: apt-get install default-jre-headless)")


def session(master: str = "local[*]", driver_memory: str = "6g"):
    """A SparkSession bound to 127.0.0.1 (no web UI, quiet logs), or the cluster at ``master``."""
    _pyspark()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")   # pandas 3 notice
    from pyspark.sql import SparkSession

    log_conf = Path(__file__).with_name("spark-log4j2.properties")
    builder = (SparkSession.builder.master(master).appName("studio-gmm")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", driver_memory).config("spark.sql.shuffle.partitions", "8")
               .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_conf}"))
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class owned_session:
    """``with owned_session(master) as spark:`` — a session that is stopped at the end only if this
    block started it (a notebook's or a test's running session is left alone)."""

    def __init__(self, master: str = "local[*]"):
        self.master = master

    def __enter__(self):
        _pyspark()
        from pyspark.sql import SparkSession

        self.existing = SparkSession.getActiveSession()
        self.spark = session(self.master)
        return self.spark

    def __exit__(self, *exc):
        if self.existing is None:
            self.spark.stop()
        return False


class guard:
    """``with guard("what"):`` turns Spark's own errors (analysis errors, failed jobs, a malformed CSV
    in FAILFAST mode) into a one-line StudioError."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, StudioError) or not _is_spark_error(exc):
            return False
        text = str(exc).strip().splitlines()
        reason = next((line for line in text if "Exception" in line or "Error" in line), text[0] if text else "")
        raise StudioError(f"Spark failed during {self.what}: {reason[:300]}") from None


def _is_spark_error(exc) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"PySparkException", "Py4JJavaError", "Py4JError", "CapturedException"})


def read_ratings(spark, path):
    """Ratings from a MovieLens-style CSV (header ``userId,movieId,rating,timestamp``) or Parquet
    (a ``.parquet`` file or a folder of them) with those columns."""
    path = Path(path)
    if not path.exists():
        raise DataError("ratings not found", path)
    if path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
        df = spark.read.parquet(str(path))
    else:
        df = spark.read.csv(str(path), header=True, schema=RATINGS_SCHEMA, mode="FAILFAST")
    missing = [c for c in ("userId", "movieId", "rating") if c not in df.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", path)
    return df.select("userId", "movieId", "rating")


@dataclass
class SparkProfiles:
    """Users' profiles as a Spark DataFrame (``userId``, ``features`` vector), with their genres, spec and
    scaling, like ``features.Profiles`` but never collected to the driver."""

    frame: object
    genres: list[str]
    spec: ProfileSpec
    center: np.ndarray
    scale: np.ndarray
    n_users: int

    def to_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """``(users, values)`` collected to the driver (small data and tests only)."""
        rows = self.frame.orderBy("userId").collect()
        return (np.array([r.userId for r in rows]),
                np.array([r.features.toArray() for r in rows], np.float64).reshape(len(rows), len(self.genres)))


def profiles(spark, ratings, movies: pd.DataFrame, spec: ProfileSpec = ProfileSpec()) -> SparkProfiles:
    """``features.user_profiles`` in Spark SQL: ``ratings`` a Spark DataFrame, ``movies`` the loader's
    pandas table (with ``genre_list``)."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    onehot = genre_matrix(movies)             # the same genres, in the same order, as the numpy profiles
    genres = list(onehot.columns)
    if not genres:
        raise StudioError("the movies have no genres")
    m_idx, g_idx = np.nonzero(onehot.to_numpy())
    movie_genre = spark.createDataFrame(pd.DataFrame({"movieId": onehot.index.to_numpy()[m_idx].astype("int64"),
                                                      "g": g_idx.astype("int64")}))
    known = spark.createDataFrame(pd.DataFrame({"movieId": movies["movieId"].astype("int64").to_numpy()}))
    counts = ratings.groupBy("userId").agg(F.count("*").alias("n_all"))
    r = (ratings.join(counts.where(F.col("n_all") >= spec.min_ratings), "userId")
         .join(F.broadcast(known), "movieId").select("userId", "movieId", "rating"))
    users = r.groupBy("userId").agg(F.count("*").alias("total"), F.avg("rating").alias("user_mean"))
    per = (r.join(F.broadcast(movie_genre), "movieId").join(users.select("userId", "user_mean"), "userId")
           .groupBy("userId").pivot("g", list(range(len(genres))))
           .agg(F.count(F.lit(1)).alias("n"), F.sum("rating").alias("s"), F.sum(F.col("rating") - F.col("user_mean")).alias("c")))
    table = users.join(per, "userId", "left").fillna(0)
    raw_cols = []
    for j in range(len(genres)):
        n, s, c = F.col(f"{j}_n"), F.col(f"{j}_s"), F.col(f"{j}_c")
        if spec.kind == "share":
            value = n / F.col("total")
        elif spec.kind == "mean":
            fill = F.lit(0.0) if spec.fill == "zero" else F.col("user_mean")
            value = F.when(n > 0, s / n).otherwise(fill)
        else:
            value = c / (n + F.lit(spec.shrinkage))
        raw_cols.append(value.cast("double").alias(f"raw{j}"))
    raw = table.select("userId", *raw_cols).cache()
    n_users = raw.count()
    if n_users == 0:
        raise StudioError("no user has enough ratings (of movies in the catalogue) to build a profile")
    if spec.scale == "standard":
        stats = raw.agg(*[F.avg(f"raw{j}") for j in range(len(genres))],
                        *[F.stddev_pop(f"raw{j}") for j in range(len(genres))]).first()
        center = np.array(stats[:len(genres)], np.float64)
        scale = np.array(stats[len(genres):], np.float64)
        scale = np.where(scale > 1e-12, scale, 1.0)
    else:
        center, scale = np.zeros(len(genres)), np.ones(len(genres))
    scaled = raw.select("userId", *[((F.col(f"raw{j}") - float(center[j])) / float(scale[j])).alias(f"x{j}")
                                    for j in range(len(genres))])
    frame = VectorAssembler(inputCols=[f"x{j}" for j in range(len(genres))], outputCol="features") \
        .transform(scaled).select("userId", "features").cache()
    frame.count()
    raw.unpersist()
    return SparkProfiles(frame, genres, spec, center, scale, n_users)


def n_parameters(k: int, d: int) -> int:
    return k * d + k * d * (d + 1) // 2 + k - 1


def to_sklearn(weights, means, covariances, reg_covar: float = 0.0) -> GaussianMixture:
    """A fitted scikit-learn ``GaussianMixture`` (full covariances) holding Spark's parameters."""
    d = means.shape[1]
    covs = covariances + reg_covar * np.eye(d)[None]
    chol = np.empty_like(covs)
    for i, cov in enumerate(covs):
        try:
            lower = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            lower = np.linalg.cholesky(cov + 1e-6 * np.trace(cov) / d * np.eye(d))
        chol[i] = np.linalg.solve(lower, np.eye(d)).T
    return fitted_mixture(weights, means, covs, chol, "full")


@dataclass
class SparkFit:
    gmm: GaussianMixture
    log_likelihood: float      # total over the users, from Spark's summary
    n: int
    seed: int
    seconds: float

    @property
    def bic(self) -> float:
        k, d = self.gmm.means_.shape
        return -2 * self.log_likelihood + n_parameters(k, d) * np.log(self.n)

    @property
    def aic(self) -> float:
        k, d = self.gmm.means_.shape
        return -2 * self.log_likelihood + 2 * n_parameters(k, d)


def cluster_model(f: SparkFit, prof: SparkProfiles, gmm_spec: GMMSpec, extra_card: dict | None = None):
    """A Spark fit as the project's ``ClusterModel`` (saved in the same npz + JSON format)."""
    from .gmm import ClusterModel

    return ClusterModel(f.gmm, list(prof.genres), prof.spec, gmm_spec, prof.center, prof.scale, f.seed,
                        {"users": prof.n_users, "bic": f.bic, "log_likelihood": f.log_likelihood, "backend": "spark",
                         **(extra_card or {})})


def check_spec(spec: GMMSpec) -> None:
    if spec.covariance_type != "full":
        raise StudioError("Spark's GaussianMixture fits full covariances only: use --covariance full "
                          "(the scikit-learn backend has diag, tied and spherical too)")


def fit(prof: SparkProfiles, k: int, spec: GMMSpec = GMMSpec("full"), seed: int = 0, tol: float = 1e-3) -> SparkFit:
    """Best of ``spec.n_init`` Spark fits (seeds ``seed``, ``seed + 1000``, ...) by log-likelihood.
    ``tol`` is per user, as scikit-learn's: Spark compares the change of the *total* log-likelihood."""
    from pyspark.ml.clustering import GaussianMixture as SparkGMM

    check_spec(spec)
    if not 1 <= k <= min(MAX_K, prof.n_users):
        raise StudioError(f"number of components must be between 1 and {min(MAX_K, prof.n_users)}, got {k}")
    start = time.perf_counter()
    if k == 1:          # Spark's mixture wants k >= 2; one Gaussian has a closed form
        return _single(prof, start, seed)
    best = None
    for i in range(spec.n_init):
        model = SparkGMM(k=k, seed=seed + 1000 * i, maxIter=spec.max_iter, tol=tol * prof.n_users,
                         featuresCol="features").fit(prof.frame)
        ll = float(model.summary.logLikelihood)
        if best is None or ll > best[1]:
            best = (model, ll)
    model, ll = best
    g = model.gaussians
    means = np.array([x.mean.toArray() for x in g], np.float64)
    covs = np.array([x.cov.toArray() for x in g], np.float64)
    gm = to_sklearn(np.asarray(model.weights), means, covs)
    return SparkFit(gm, ll, prof.n_users, seed, time.perf_counter() - start)


def _single(prof: SparkProfiles, start: float, seed: int) -> SparkFit:
    """k = 1: the maximum-likelihood Gaussian (mean, covariance with 1/n), computed by Spark, and its
    log-likelihood -n/2 (d log 2 pi + log det S + d)."""
    from pyspark.mllib.linalg.distributed import RowMatrix

    rows = RowMatrix(prof.frame.select("features").rdd.map(lambda r: r.features.toArray().tolist()))
    n, d = prof.n_users, len(prof.genres)
    mean = np.asarray(rows.computeColumnSummaryStatistics().mean(), np.float64)
    cov = np.asarray(rows.computeCovariance().toArray(), np.float64) * (n - 1) / max(n, 1)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        logdet = np.linalg.slogdet(cov + 1e-6 * np.trace(cov) / d * np.eye(d))[1]
    ll = -0.5 * n * (d * np.log(2 * np.pi) + logdet + d)
    return SparkFit(to_sklearn(np.ones(1), mean[None], cov[None]), float(ll), n, seed, time.perf_counter() - start)


def sweep(prof: SparkProfiles, ks, spec: GMMSpec = GMMSpec("full"), seeds=(0,), progress=None,
          on_fit=None) -> Sweep:
    """Like ``gmm.sweep``: BIC / AIC per (seed, k); ``on_fit(seed, k, SparkFit)`` for saving."""
    def one(k, seed):
        f = fit(prof, k, spec, seed)
        return f.bic, f.aic, f

    return sweep_with(one, ks, seeds, {**asdict(spec), "backend": "spark"}, progress, on_fit, " (Spark)")
