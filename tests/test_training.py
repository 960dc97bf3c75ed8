from recnotes.training import Throughput


def test_throughput_ignores_the_first_epoch():
    tp = Throughput(examples_per_epoch=1000)
    tp.epoch_seconds = [4.0, 0.5, 0.25, 0.5]
    assert tp.examples_per_second == [250.0, 2000.0, 4000.0, 2000.0]
    assert tp.steady_examples_per_second == 2000.0
    assert "steady=2,000 examples/s" in repr(tp)


def test_margin_satisfied_fraction_by_hand():
    import numpy as np

    from recnotes.models import TwoTowerModel
    from recnotes.training import MarginSatisfied

    model = TwoTowerModel(num_users=2, num_items=2, embedding_dim=2)
    model.build()
    model.user_embedding.embeddings.assign(np.array([[2.0, 0.0], [0.0, 1.0]], "float32"))
    model.item_embedding.embeddings.assign(np.eye(2, dtype="float32"))
    # logits = users @ items^T = [[2, 0], [0, 1]]: row 0 leads by 2, row 1 by 1
    probe = {"user": np.array([0, 1]), "item": np.array([0, 1])}
    callback = MarginSatisfied(probe, margin=1.5)
    callback.set_model(model)
    callback.on_epoch_end(0)
    assert callback.fractions == [0.5]
    callback.margin = 1.0
    assert callback.measure() == 1.0


def test_fit_two_tower_encodes_with_the_evaluator_and_repeats_with_a_seed(bundled):
    import numpy as np

    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.losses import BPR
    from recnotes.splits import chrono_split
    from recnotes.training import fit_two_tower

    split = chrono_split(bundled.ratings[bundled.ratings.userId <= 40])
    ev = FullRankingEvaluator.from_split(split)
    kwargs = dict(epochs=2, batch_size=256, embedding_dim=8, seed=1)
    a = fit_two_tower(split.train, ev, **kwargs)
    b = fit_two_tower(split.train, ev, **kwargs)
    assert a.model.num_users == len(ev.user_encoder) and a.model.num_items == len(ev.item_encoder)
    np.testing.assert_array_equal(a.model.item_vectors(), b.model.item_vectors())
    assert len(a.throughput.epoch_seconds) == 2 and "epochs=2" in repr(a)
    c = fit_two_tower(split.train, ev, logq=True, retrieval_loss=BPR(), **kwargs)
    assert np.isfinite(c.history.history["loss"]).all()
