"""Person re-identification: match a pedestrian seen by camera A to the same person in camera B.

* :mod:`.sampling` random pairs / triplets, P x K batches, batch-hard and semi-hard mining (numpy);
* :mod:`.losses` the project's triplet losses (Keras ops), checked against the numpy mining;
* :mod:`.models` the course network and the stronger Xception-feature embedding head;
* :mod:`.handcrafted` LOMO-like stripe features and the XQDA metric (the non-deep baseline);
* :mod:`.evaluation` CMC, mAP, k-reciprocal re-ranking, protocols;
* :mod:`.train` training, embedding, saving and loading; ``python -m core.reid`` is the CLI.
"""
