"""hslib: reproduce "Are Sparse Neural Networks Better Hard Sample Learners?" (BMVC 2024)."""
