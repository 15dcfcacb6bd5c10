"""Clustering users by genre taste with Gaussian mixtures, and recommendations from the clusters.

* :mod:`.features` genre matrix and per-user genre profiles;
* :mod:`.gmm` fitting, the BIC / AIC sweep over k, save / load (JSON + npz, no pickle);
* :mod:`.recommend` the cluster recommender and its baselines (most popular, item-kNN);
* :mod:`.evaluation` temporal hold-out, Precision / Recall / NDCG @ k, coverage.
"""
