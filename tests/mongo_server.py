"""Session fixture for a MongoDB server (filled in by the MongoDB backend work)."""
