"""The logit that removes a column from a loss, and how losses recognize it."""

from keras import ops

# exp(MASK_LOGIT - x) underflows to exactly 0 in float32 for any realistic logit x.
MASK_LOGIT = -1e9


def unmasked(logits):
    """1.0 where a logit is a real score, 0.0 where it was masked with :data:`MASK_LOGIT`."""
    return ops.cast(ops.greater(ops.cast(logits, "float32"), MASK_LOGIT / 2), "float32")
