"""The history of generated images that CycleGAN's discriminators see (Shrivastava et al., 2017).

Until the pool is full each new fake is stored and returned; afterwards, with probability 1/2 a
fake is swapped for a random stored one (which is returned instead), otherwise it passes through.
This damps oscillation. Randomness comes from the fit's own generator, and the pool is part of a
checkpoint, so a resumed fit draws the same images.
"""

from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, fakes: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return fakes
        chosen = []
        for fake in fakes.detach():
            fake = fake.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(fake.clone())
                chosen.append(fake)
            elif torch.rand(1, generator=rng).item() > 0.5:
                slot = int(torch.randint(self.size, (1,), generator=rng))
                chosen.append(self.images[slot].clone())
                self.images[slot] = fake.clone()
            else:
                chosen.append(fake)
        return torch.cat(chosen)

    def state_dict(self) -> dict:
        return {"size": self.size, "images": [image.cpu() for image in self.images]}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.size = state["size"]
        self.images = [image.to(device) for image in state["images"]]
