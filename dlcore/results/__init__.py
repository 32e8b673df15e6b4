"""Results: from run folders to the homework's answers (optimizer comparison,
generalization, time to accuracy, the ResNet recipe table) and the tables shown
beside them. Pure pandas/NumPy."""
