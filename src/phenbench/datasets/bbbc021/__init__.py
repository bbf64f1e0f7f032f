"""BBBC021: the raw release, its metadata, crop tables, preparation and download."""
