"""StarGAN (Choi et al., 2018): one generator conditioned on the target condition."""
