"""Scaling out on existing engines: Ray Data for encoding (:mod:`.ray_encode`)."""
