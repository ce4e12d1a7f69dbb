"""Whether this CPU's int8 products saturate (no torch, no onnxruntime).

ONNX Runtime's dynamic int8 multiplies uint8 activations by int8 weights. On x86 CPUs with AVX2
but without VNNI (AMD's Zen 2 and Zen 3, Intel before Cascade Lake) it does so with an
instruction that adds pairs of products into 16 bits, which saturate: ONNX Runtime's documented
caveat, whose remedy is ``reduce_range`` (7-bit weights, half the headroom used). The
cross-encoders' int8 graphs take it on such CPUs (the tiny test rerankers' logits move up to
0.24 from torch's without it, 0.05 with it). The encoder's int8 graph does not: SmoothQuant
already moves the activations' outliers into the weights, and 7-bit weights there cost more
than the saturation (dense cosine to float32 0.9975 against 0.9983 on the same CPU).

>>> saturating_int8("flags : fpu sse2 avx2 fma"), saturating_int8("flags : avx2 avx512_vnni")
(True, False)
>>> saturating_int8("flags : neon asimd")  # not x86: no such instruction
False
"""

from __future__ import annotations

from pathlib import Path

_CPUINFO = Path("/proc/cpuinfo")


def saturating_int8(cpuinfo: str | None = None) -> bool:
    """True on an x86 CPU with AVX2 and without VNNI (``avx512_vnni``, ``avx_vnni``) or AMX;
    ``cpuinfo`` is the text of Linux's ``/proc/cpuinfo`` (read when not given; unreadable: False)."""
    if cpuinfo is None:
        try:
            cpuinfo = _CPUINFO.read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return "avx2" in flags and not any("vnni" in f or f.startswith("amx") for f in flags)
