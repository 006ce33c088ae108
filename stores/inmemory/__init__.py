"""The embedded store (the default): Haystack's in-memory store persisted to a file and shared by serving processes."""
