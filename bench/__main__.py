"""`python -m bench`: run every benchmark and print its table."""
from . import compile_time, overhead
from .common import table

print("W6: 20 elementwise ops on a (16,) float32 array, median per call")
print(table(overhead.run(), "numpy"))

c = compile_time.run()
print(f"\nMLP 784-256-10 SGD step, first call (trace -> native): {c['first_call_s']:.3f} s (goal < 0.5 s); "
      f"{c['fused']} kernels ({c['unfused']} unfused)")
