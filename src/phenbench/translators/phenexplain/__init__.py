"""Phenexplain: a compact class-conditional StyleGAN2 with real-image projection into W and W+.

Lamiable et al. (2023) train a conditional StyleGAN2 and show a condition change by moving a latent
from one condition's centre in W towards another's. Real images enter W (or W+) by projection.
"""
