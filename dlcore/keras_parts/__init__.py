"""The Keras parts: the homework's models, optimizers (with RMSProp + Nesterov) and
schedules as Keras objects. Backend-neutral Keras 3 (``keras.ops``); imports only the core."""
