"""dlcore: the compute layer of the app. Never imports Streamlit.

Layers, each importing only the ones below it (checked by lint-imports, see
.importlinter and ../shared/ARCHITECTURE.md):

    charts/       Altair builders of training curves, with captions
    results/      run folders → the homework's answers and tables (pandas)
    engine/       specs, data, input pipeline, worker, batch growth, jobs, run store, CLI
    keras_parts/  models, optimizers, schedules as Keras objects
    core/         pure NumPy: arithmetic, update rules, schedules, range test, augmentation

``python -m dlcore.run`` and ``python -m dlcore.train RUN_DIR`` are the two
commands; they live in engine/cli.py and engine/worker.py.
"""
