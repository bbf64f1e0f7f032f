"""PhenDiff: a class-conditional DDIM that inverts under the source condition and regenerates under the target."""
