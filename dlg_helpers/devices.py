"""Where the attack runs: the GPU when there is one (Colab), else the CPU, and how the CPU's
memory is handed out."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

import torch

__all__ = ["pick_device", "keep_freed_memory"]

# glibc's mallopt parameters (malloc.h): above M_MMAP_THRESHOLD a block gets its own mapping,
# and free memory above M_TRIM_THRESHOLD at the heap's top goes back to the system.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LARGEST_HEAP_BLOCK = 32 * 2**20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
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
    parameter-sized gradient, times K). glibc gives every block above a threshold its own
    mapping and unmaps it when freed, so each new temporary is faulted in page by page again:
    on this project's machines that took about a seventh of a LeNet evaluation at K = 32.
    Raising the thresholds (blocks up to 32 MB from the heap, up to 1 GB of free heap kept)
    keeps those pages. Numbers are unchanged; the process may hold more memory it has freed.

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
    return bool(mallopt(_M_MMAP_THRESHOLD, _LARGEST_HEAP_BLOCK)
                and mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE))
