"""The TensorFlow Recommenders two-tower, trained in its own process (a benchmark reference).

TFRS needs Keras 2 (``tf_keras``), recnotes needs Keras 3: one Python process
cannot hold both as ``tf.keras``.  :func:`recnotes.bench.references.tfrs_two_tower`
therefore runs this module as a script with ``TF_USE_LEGACY_KERAS=1``::

    TF_USE_LEGACY_KERAS=1 python -m recnotes.bench.tfrs_worker INPUT.npz OUTPUT.npz

It imports nothing from recnotes (so no Keras 3 is loaded beside Keras 2).
INPUT holds ``users``, ``items`` (encoded train rows) and the settings
``num_users``, ``num_items``, ``embedding_dim``, ``batch_size``, ``epochs``,
``learning_rate``, ``seed``; OUTPUT gets the trained ``user_embeddings``,
``item_embeddings`` and the wall-clock ``epoch_seconds``.

The model is TFRS' own: two ``Embedding`` towers and
``tfrs.tasks.Retrieval()`` (in-batch softmax, TFRS' default sum reduction),
Adagrad with Keras 2's defaults, the same ``tf.data`` pipeline shape as
recnotes (shuffle every epoch, batch, prefetch).
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: TF_USE_LEGACY_KERAS=1 python -m recnotes.bench.tfrs_worker INPUT.npz OUTPUT.npz", file=sys.stderr)
        return 2
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        print("tfrs_worker: set TF_USE_LEGACY_KERAS=1 (TFRS runs on Keras 2, tf_keras)", file=sys.stderr)
        return 2
    import numpy as np
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    data = np.load(argv[0])
    settings = {key: data[key].item() for key in ("num_users", "num_items", "embedding_dim", "batch_size",
                                                  "epochs", "learning_rate", "seed")}
    tf.keras.utils.set_random_seed(int(settings["seed"]))

    class TwoTower(tfrs.Model):
        def __init__(self):
            super().__init__()
            self.user_model = tf.keras.layers.Embedding(int(settings["num_users"]), int(settings["embedding_dim"]))
            self.item_model = tf.keras.layers.Embedding(int(settings["num_items"]), int(settings["embedding_dim"]))
            self.task = tfrs.tasks.Retrieval()

        def compute_loss(self, features, training=False):
            return self.task(self.user_model(features["user"]), self.item_model(features["item"]))

    users, items = data["users"].astype("int32"), data["items"].astype("int32")
    dataset = (
        tf.data.Dataset.from_tensor_slices({"user": users, "item": items})
        .shuffle(len(users), seed=int(settings["seed"]), reshuffle_each_iteration=True)
        .batch(int(settings["batch_size"]))
        .prefetch(tf.data.AUTOTUNE)
    )
    model = TwoTower()
    model.compile(optimizer=tf.keras.optimizers.Adagrad(float(settings["learning_rate"])))

    class EpochTimer(tf.keras.callbacks.Callback):
        seconds: list = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            EpochTimer.seconds.append(time.perf_counter() - self._start)

    model.fit(dataset, epochs=int(settings["epochs"]), verbose=0, callbacks=[EpochTimer()])
    np.savez(
        argv[1],
        user_embeddings=model.user_model.embeddings.numpy(),
        item_embeddings=model.item_model.embeddings.numpy(),
        epoch_seconds=np.asarray(EpochTimer.seconds),
        versions=json.dumps({"tensorflow": tf.__version__, "tensorflow_recommenders": tfrs.__version__}),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
