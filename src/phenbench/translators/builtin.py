"""The built-in translators, registered through the same hook as third-party plugins."""

from phenbench.core.registry import Registration
from phenbench.hookspecs import hookimpl


@hookimpl
def register_translators() -> list[Registration]:
    return [
        Registration(
            "identity",
            "phenbench.translators.identity.translator:IdentityTranslator",
            "Copy-source null baseline: returns the source image unchanged.",
        ),
        Registration(
            "real-target",
            "phenbench.translators.real_target.translator:RealTargetTranslator",
            "Cell-ignoring baseline: a random real training image of the target (wins FID, loses source-fidelity).",
        ),
        Registration(
            "phendiff",
            "phenbench.translators.phendiff.translator:PhenDiffTranslator",
            "PhenDiff (Bourou et al., 2024): class-conditional DDIM, invert under source, regenerate under target.",
        ),
        Registration(
            "cellflux",
            "phenbench.translators.cellflux.translator:CellFluxTranslator",
            "CellFlux (Zhang et al., 2025): conditional flow matching from each control cell to the treated condition.",
        ),
        Registration(
            "stargan",
            "phenbench.translators.stargan.translator:StarGANTranslator",
            "StarGAN (Choi et al., 2018): one generator conditioned on the target condition.",
        ),
        Registration(
            "cyclegan",
            "phenbench.translators.cyclegan.translator:CycleGANTranslator",
            "CycleGAN (Zhu et al., 2017): one two-domain model per pair of conditions a run needs.",
        ),
        Registration(
            "phenex-w",
            "phenbench.translators.phenexplain.translator:PhenexWTranslator",
            "Phenexplain (Lamiable et al., 2023): conditional StyleGAN2, real images projected into W.",
        ),
        Registration(
            "phenex-wplus",
            "phenbench.translators.phenexplain.translator:PhenexWPlusTranslator",
            "Phenexplain with projection into W+ (one latent per layer): closer reconstructions.",
        ),
    ]
