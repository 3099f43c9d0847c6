"""Statistics over seeds: the spread of one configuration, and whether two differ.

- summary.py: `describe` (n, mean, std, median, IQM, min, max, an interval of the mean)
  and `summarize` (a row per configuration: `SweepResult.summary()`).
- compare.py: `compare_samples` (Welch, Mann-Whitney, P(beats), paired tests) and `holm`.
- seeds.py: how many seeds for an interval this narrow, or for 80% power.
- intervals.py: the t, studentized-bootstrap and BCa intervals of the mean, vectorised
  (summary.py uses t, by their simulated coverage: bench/stats_coverage.py).
- multiple.py: the max-t step-down over all pairs behind `compare()`'s verdicts against the best.
- ranking.py: `primary_metric`, and configurations ranked by mean with the tests against
  the top one (`SweepResult.compare()`, `SweepResult.best()`).

scipy and statsmodels are imported inside the functions that use them: they would add
about half a second to every `import fastlstm`.
"""

from fastlstm.stats._bounds import METRIC_BOUNDS, format_bounds, metric_bounds
from fastlstm.stats._calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    with_temperature,
)
from fastlstm.stats._compare import (
    Comparison,
    compare_samples,
    exact_mannwhitney_min_p,
    exact_wilcoxon_min_p,
    format_p,
    hedges_g,
    holm,
    newcombe_interval,
    probability_of_beating,
)
from fastlstm.stats._importance import Importance, ImportanceTerm, hyperparameter_importance
from fastlstm.stats._multiple import maxt_stepdown
from fastlstm.stats._ranking import (
    BestConfiguration,
    Ranking,
    best_configuration,
    compare_groups,
    higher_is_better,
    member_pair_keys,
    primary_metric,
    rank_configurations,
    result_metric_values,
)
from fastlstm.stats._seeds import halfwidth_for_seeds, seeds_for_halfwidth, seeds_for_power
from fastlstm.stats._summary import (
    BOOTSTRAP_RESAMPLES,
    MAJORITY_MARGIN,
    MAJORITY_TOLERANCE,
    STATS,
    Summary,
    at_majority_rate,
    describe,
    final_values,
    interquartile_mean,
    interval_note,
    majority_class_rate,
    mean_interval,
    summarize,
)

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "MAJORITY_MARGIN",
    "MAJORITY_TOLERANCE",
    "METRIC_BOUNDS",
    "STATS",
    "BestConfiguration",
    "Comparison",
    "Importance",
    "ImportanceTerm",
    "Ranking",
    "Summary",
    "at_majority_rate",
    "best_configuration",
    "compare_groups",
    "compare_samples",
    "describe",
    "exact_mannwhitney_min_p",
    "exact_wilcoxon_min_p",
    "expected_calibration_error",
    "final_values",
    "fit_temperature",
    "format_bounds",
    "format_p",
    "halfwidth_for_seeds",
    "hedges_g",
    "higher_is_better",
    "holm",
    "hyperparameter_importance",
    "interquartile_mean",
    "interval_note",
    "majority_class_rate",
    "maxt_stepdown",
    "mean_interval",
    "member_pair_keys",
    "metric_bounds",
    "negative_log_likelihood",
    "newcombe_interval",
    "primary_metric",
    "probability_of_beating",
    "rank_configurations",
    "reliability_bins",
    "result_metric_values",
    "seeds_for_halfwidth",
    "seeds_for_power",
    "summarize",
    "with_temperature",
]
