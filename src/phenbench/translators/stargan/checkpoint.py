"""StarGAN's training checkpoints (see phenbench.core.training_checkpoint): networks, optimizers,
the way batches are drawn, step counter, loss history and seconds spent, written atomically."""

from phenbench.core.training_checkpoint import TrainingCheckpoints
from phenbench.translators.stargan.config import TRANSLATION_SETTINGS

# Config fields a resumed fit may change: the run length and how translation is batched.
CHECKPOINTS = TrainingCheckpoints("stargan-training.pt", "StarGAN", {"steps", *TRANSLATION_SETTINGS})
CHECKPOINT_FILE = CHECKPOINTS.filename
save_checkpoint = CHECKPOINTS.save
load_checkpoint = CHECKPOINTS.load
