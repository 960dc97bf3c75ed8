from recnotes.training import Throughput


def test_throughput_ignores_the_first_epoch():
    tp = Throughput(examples_per_epoch=1000)
    tp.epoch_seconds = [4.0, 0.5, 0.25, 0.5]
    assert tp.examples_per_second == [250.0, 2000.0, 4000.0, 2000.0]
    assert tp.steady_examples_per_second == 2000.0
    assert "steady=2,000 examples/s" in repr(tp)
