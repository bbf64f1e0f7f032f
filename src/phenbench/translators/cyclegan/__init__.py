"""CycleGAN (Zhu et al., 2017): one unpaired two-domain model per pair of conditions a run needs."""
