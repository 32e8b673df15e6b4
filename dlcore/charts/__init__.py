"""Charts: Altair builders of the training curves, with their captions."""
