"""Pure, vectorised math: targets, losses, decoding, NMS."""
