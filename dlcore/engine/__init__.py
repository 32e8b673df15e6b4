"""The engine: experiment specs and catalogue, data sets, the input pipeline, the
training worker and its callback, batch growth, jobs, the run store and the CLI.

Imports Keras only where a model is built or trained, so pages that list runs or
specs stay fast.
"""
