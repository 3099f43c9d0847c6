"""What the spread means: experiments that ask one question each, and their documents.

`variance_sources` (sources.py) trains one configuration with one RNG stream varied at
a time and says where the spread across seeds comes from; `lr_range` (lr_range.py)
trains a range of learning rates for a short budget and says which are safe. Each is
one batched run (one `train` call) and leaves a JSON-ready document in
`result.analysis`, saved with the run folder.
"""

from fastlstm.analysis._doctor import doctor
from fastlstm.analysis._lr_range import LRRange, lr_range
from fastlstm.analysis._sources import VarianceSources, variance_sources

__all__ = ["LRRange", "VarianceSources", "doctor", "lr_range", "variance_sources"]
