"""hslib: reproduce "Are Sparse Neural Networks Better Hard Sample Learners?" (BMVC 2024)."""

__version__ = "0.7.1"
