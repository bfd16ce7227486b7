"""Where the attack runs, and the CPU allocator setting the batched engine makes."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest
import torch

from dlg_helpers.devices import keep_freed_memory, pick_device


def test_pick_device_takes_the_cpu_when_asked() -> None:
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_asking_for_a_missing_gpu_names_the_fix() -> None:
    with pytest.raises(ValueError, match="use device 'cpu'"):
        pick_device("cuda")


# In a fresh interpreter (so no earlier free has moved glibc's adaptive threshold): a 16 MB
# tensor gets its own mapping by default; after keep_freed_memory() the next one comes from the
# heap. glibc's mallinfo2 counts the mapped blocks (hblks).
_PROBE = textwrap.dedent("""
    import ctypes, torch
    from dlg_helpers.devices import keep_freed_memory

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Info
    mapped = lambda: libc.mallinfo2().hblks
    before = mapped()
    first = torch.ones(4 * 2**20)
    by_default = mapped() - before
    assert keep_freed_memory()
    before = mapped()
    second = torch.ones(4 * 2**20)
    print(by_default, mapped() - before)
""")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_large_tensors_come_from_the_heap_once_freed_memory_is_kept() -> None:
    output = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                            check=True).stdout.split()
    assert output == ["1", "0"]  # mapped on its own by default; from the heap after the call


def test_keep_freed_memory_reports_whether_it_applied() -> None:
    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
