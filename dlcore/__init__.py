"""dlcore: the compute layer of the app. Plain Python; never imports Streamlit.

Modules are named for the concept they hold (archmath, rules, optimizers,
schedules, augment, data, models, experiments, train, jobs, runs, charts).
Nothing here imports Keras at import time of the package: modules that build
or train models import it themselves, so the instant pages start fast.
"""
