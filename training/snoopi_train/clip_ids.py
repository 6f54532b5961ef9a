"""CLIP token ids for the training captions.

The captions use a closed vocabulary of whole words, each a single CLIP token, so this maps words
through CLIP's vocabulary (rebuilt from the vendored BPE merge list exactly as CLIP's
simple_tokenizer builds it) and refuses anything else. Serving uses the product's full tokenizer
(gpu-service/src/tokenizer); a test checks both give the same ids for every training caption.
"""
from __future__ import annotations

import functools
import gzip
import re
from pathlib import Path

MERGES_GZ = Path(__file__).resolve().parents[2] / "gpu-service" / "assets" / "clip" / "bpe_simple_vocab_16e6.txt.gz"
START, END = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@functools.cache
def vocabulary() -> dict[str, int]:
    lines = gzip.open(MERGES_GZ, "rt", encoding="utf-8").read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    tokens = list(bytes_to_unicode().values())
    tokens += [t + "</w>" for t in tokens]
    tokens += ["".join(m) for m in merges]
    tokens += [START, END]
    return {t: i for i, t in enumerate(tokens)}


def caption_words(caption: str) -> list[str]:
    """The words of a caption as caption_ids tokenises them: one CLIP token each, after the start token."""
    return re.findall(r"[a-z]+|[^\sa-z]", caption.lower())


def caption_ids(caption: str) -> list[int]:
    """[start, words…, end, end padding] — 77 ids, padded with <|endoftext|> as SD 1.x does."""
    vocab = vocabulary()
    ids = [vocab[START]]
    for word in caption_words(caption):
        token = word + "</w>"
        if token not in vocab:
            raise ValueError(f"{word!r} is not a single CLIP token; training captions use whole-word tokens only")
        ids.append(vocab[token])
    ids.append(vocab[END])
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"caption longer than {MAX_TOKENS} tokens: {caption!r}")
    return ids + [vocab[END]] * (MAX_TOKENS - len(ids))
