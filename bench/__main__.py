"""`python -m bench`: run every benchmark and print its table."""
from . import overhead
from .common import table

print("W6: 20 elementwise ops on a (16,) float32 array, median per call")
print(table(overhead.run(), "numpy"))
