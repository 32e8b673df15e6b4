"""The core: pure NumPy, what the instant parts of every page compute.

Layer arithmetic and the networks of Problem 3, the update rules and loss
surfaces of Problem 1, schedules as plain functions of the iteration and the
range-test analysis of Problem 2, cutout and pad-crop-flip of Problem 4 as the
reference the gallery shows. Never imports Keras, TensorFlow, JAX or Streamlit
(checked by lint-imports, see .importlinter).
"""
