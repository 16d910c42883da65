"""Scoring stamps with a trained network (pure: torch, no Django).

Stamps stream from a stamp-set file in chunks: preprocess (resample +
normalise), then the network in eval mode; channels_last on CPU (2x on the
CNN here, DESIGN.md). Returns P(lens) per stamp.
"""

import numpy as np
import torch

from classifier.networks import lens_probability

CHUNK = 1024


def default_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.no_grad()
def score_array(model, preprocessor, stamps, pixscale_arcsec, device=None, batch_size=256):
    """P(lens) for stamps (N, B, H, W) as a float64 numpy array."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(stamps), batch_size):
        x = preprocessor(stamps[start : start + batch_size], pixscale_arcsec, device)
        x = x.contiguous(memory_format=torch.channels_last)
        out.append(lens_probability(model(x)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def score_stampset(model, preprocessor, stampset, device=None, progress=None):
    """P(lens) for every stamp of a ``StampSet``, read chunk by chunk."""
    bad = [b for b in preprocessor.bands if b not in stampset.bands]
    if stampset.bands != list(preprocessor.bands):
        raise ValueError(
            f"The network takes bands {','.join(preprocessor.bands)}; {stampset.path} has "
            f"{','.join(stampset.bands)}" + (f" (missing {','.join(bad)})" if bad else "") + "."
        )
    scores = []
    n = len(stampset)
    for start in range(0, n, CHUNK):
        chunk = stampset.stamps(slice(start, start + CHUNK))
        if np.all(np.isnan(chunk)):
            raise ValueError(
                f"{stampset.path}: stamps {start}-{start + len(chunk) - 1} are all NaN."
            )
        scores.append(score_array(model, preprocessor, chunk, stampset.pixscale_arcsec, device))
        if progress:
            progress(min(start + CHUNK, n), n)
    return np.concatenate(scores) if scores else np.zeros(0)
