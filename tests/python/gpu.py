"""A CUDA tensor registered from Python is released at HIGH the way PyTorch
frees it: the binding drops its reference and calls
torch.cuda.empty_cache(); the memory is back (torch.cuda.memory_reserved()
falls).  CuPy's pool likewise.  Exits 77 (skipped) without torch or CuPy,
or without a CUDA device."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

try:
    import torch
except ImportError:
    torch = None
try:
    import cupy
except ImportError:
    cupy = None
if torch is None and cupy is None:
    print("skipped: torch and CuPy are absent (python3 -c 'import torch' fails)")
    sys.exit(77)

from rcshim import CleanupPriority, get_resource_cleaner

cleaner = get_resource_cleaner()
failed = 0
ran = 0
if torch is not None and torch.cuda.is_available():
    ran += 1
    t = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    cleaner.register_gpu_buffer("model_buffer", {"tensor": t})
    del t
    before = torch.cuda.memory_reserved()
    medium = cleaner.clean(CleanupPriority.MEDIUM)
    mid = torch.cuda.memory_reserved()
    high = cleaner.clean(CleanupPriority.HIGH)
    after = torch.cuda.memory_reserved()
    print("torch reserved: %d before, %d after MEDIUM, %d after HIGH" % (before, mid, after))
    if not (before >= 256 << 20 and mid == before and after <= before - (256 << 20)
            and high["kinds"]["gpu"]["cleaned"] == 1):
        print("FAIL: torch memory not given back at HIGH", high)
        failed += 1
if cupy is not None:
    try:
        cupy.cuda.runtime.getDeviceCount()
        has_dev = True
    except Exception:
        has_dev = False
    if has_dev:
        ran += 1
        pool = cupy.get_default_memory_pool()
        a = cupy.empty(64 << 20, dtype=cupy.uint8)
        cleaner.register_gpu_buffer("cupy_buffer", {"array": a})
        del a
        before = pool.total_bytes()
        high = cleaner.clean(CleanupPriority.HIGH)
        after = pool.total_bytes()
        print("cupy pool: %d before, %d after HIGH" % (before, after))
        if not (after <= before - (64 << 20)):
            print("FAIL: CuPy memory not given back at HIGH", high)
            failed += 1
if not ran:
    print("skipped: no CUDA device for torch or CuPy")
    sys.exit(77)
print("%d%%: Checks: %d, Failures: %d, Errors: 0" % (100 * (ran - failed) // ran, ran, failed))
sys.exit(1 if failed else 0)
