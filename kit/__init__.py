"""The kit: what the rooms (pipelines/), the components, the stores and the shell (service/) share, on the bottom
floor. It imports neither `service` nor any room."""
