"""Streamlit building blocks shared by several pages (dlcore never imports this package).

- :mod:`ui.dataset_gate`: a missing data set, said so, with a button that downloads it.
- :mod:`ui.charts`: draw an Altair chart without Altair's per-record validation (fast redraws).
- :mod:`ui.tables`: read-only tables drawn as static, wrapping tables (whole on a projector).
- :mod:`ui.x_axis`: the x-axis choice (epochs, updates, examples, seconds) and smoothing slider.
- :mod:`ui.claims`: the papers' claims beside an experiment's runs, with computed verdicts.
- :mod:`ui.range_test_rules`: every LR-finder suggestion rule on one range test, with bands.
"""
