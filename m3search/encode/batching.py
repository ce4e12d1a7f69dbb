"""Length-sorted batches under a token budget (pure Python, no torch).

Sorting by length keeps padding small; the budget bounds the padded size of a batch
(``count * longest``), so a few long texts do not share a batch with many others.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigurationError


def plan_batches(lengths: Sequence[int], *, max_batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Group indices, longest first, so that each batch has at most ``max_batch_size`` items
    and ``len(batch) * longest_in_batch <= max_batch_tokens`` (a single longer text is alone).

    >>> plan_batches([3, 10, 4, 9], max_batch_size=8, max_batch_tokens=20)
    [[1, 3], [2, 0]]
    >>> plan_batches([5, 5, 5], max_batch_size=2, max_batch_tokens=100)
    [[0, 1], [2]]
    """
    if max_batch_size < 1:
        raise ConfigurationError(f"batch size must be >= 1, got {max_batch_size}")
    if max_batch_tokens < 1:
        raise ConfigurationError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        if current and (len(current) >= max_batch_size or (len(current) + 1) * longest > max_batch_tokens):
            batches.append(current)
            current = []
        if not current:
            longest = lengths[i]
        current.append(i)
    if current:
        batches.append(current)
    return batches


#: Padded tokens per forward pass by default on a CPU and on a GPU (:func:`default_batch_tokens`).
CPU_BATCH_TOKENS, GPU_BATCH_TOKENS = 2048, 16384
#: Backends whose CPU budget is another: int8 graphs run smaller passes faster.
CPU_BATCH_TOKENS_BY_KIND = {"onnx-int8": 1024}


def default_batch_tokens(backend: object) -> int:
    """The padded tokens of one forward pass: :data:`GPU_BATCH_TOKENS` (16,384) on a GPU, on a
    CPU :data:`CPU_BATCH_TOKENS` (2,048), or the backend's own (:data:`CPU_BATCH_TOKENS_BY_KIND`).

    On a CPU every backend runs smaller batches faster: a pass's activations (and attention's
    batch x heads x length² working set) stay in cache. ``benchmarks/batch_tokens.py``
    measures it (the table in the docs' Performance page; the offline model, 2 threads):
    2,048 tokens is the best budget for torch, and every backend takes 1.3-1.5x as long at
    16,384; ``onnx-int8`` was faster at 1,024 than at 2,048 on paragraphs and on questions in
    each of two runs. GPUs want large batches.

    >>> default_batch_tokens(object())
    2048
    """
    if _on_gpu(backend):
        return GPU_BATCH_TOKENS
    return CPU_BATCH_TOKENS_BY_KIND.get(str(getattr(backend, "kind", "")), CPU_BATCH_TOKENS)


def _on_gpu(backend: object) -> bool:
    device = getattr(backend, "device", None)
    if device is not None:
        return str(getattr(device, "type", device)).startswith("cuda")
    session = getattr(backend, "session", None)  # ONNX Runtime: the provider it runs on
    return session is not None and session.get_providers()[0] == "CUDAExecutionProvider"
