"""Where the attack runs: the GPU when there is one (Colab), else the CPU, and how the CPU's
memory is handed out."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

import torch

__all__ = ["pick_device", "keep_freed_memory"]

# glibc's mallopt parameters (malloc.h): free memory above M_TRIM_THRESHOLD at the heap's top
# goes back to the system, and up to M_MMAP_MAX blocks at a time get a mapping of their own.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_KEPT_FREE = 2**30


def pick_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given (``"cpu"``, ``"cuda"``), otherwise CUDA when available, else the CPU.

    Raises:
        ValueError: when CUDA is asked for and there is no GPU.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(prefer)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("no CUDA GPU is available here; use device 'cpu' (or a Colab GPU runtime)")
    return device


@functools.cache
def keep_freed_memory() -> bool:
    """Let this process reuse the memory of large freed tensors instead of returning it.

    A batched attack makes dozens of temporaries of several MB per evaluation (each attack's
    parameter-sized gradient, times K). glibc gives every block above a threshold (at most
    32 MB) its own mapping and unmaps it when freed, so each new temporary is faulted in page by
    page again: on this project's machines that took about a third of a LeNet evaluation at
    32 x 32 and K = 32, and nearly half at 64 x 64. Here every block comes from the heap, and up
    to 1 GB of it is kept when freed. Numbers are unchanged; the process may hold on to memory
    it has freed.

    Returns:
        True when the setting was made (Linux with glibc), False elsewhere (nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE))
