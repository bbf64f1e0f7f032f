"""The built-in metrics, registered through the same hook as third-party plugins."""

from phenbench.core.registry import Registration
from phenbench.hookspecs import hookimpl


@hookimpl
def register_metrics() -> list[Registration]:
    return [
        Registration(
            "counterfactual",
            "phenbench.metrics.counterfactual:CounterfactualError",
            "Error against the true counterfactual (synthetic worlds): MSE and PSNR.",
        ),
        Registration(
            "phenotype-shift",
            "phenbench.metrics.phenotype_shift:PhenotypeShift",
            "Share of the true phenotype shift a translation achieves, measured on images (synthetic).",
        ),
        Registration("fid", "phenbench.metrics.fidelity:FID",
                     "Fréchet Inception Distance (torch-fidelity) per target condition and pooled."),
        Registration("kid", "phenbench.metrics.fidelity:KID",
                     "Kernel Inception Distance (torch-fidelity), subsets of at most half the images."),
        Registration("reconstruction", "phenbench.metrics.reconstruction:Reconstruction",
                     "Invert then regenerate under the same condition: MSE, PSNR, L2 (0-255)."),
        Registration("cellprofiler", "phenbench.metrics.cellprofiler:CellProfilerCorrelation",
                     "Per compound, Pearson r of real vs translated CellProfiler means across doses."),
        Registration("effect", "phenbench.metrics.effect:Effect",
                     "Feature shift source -> translated against the real shift (cosine, magnitude ratio)."),
        Registration("dose-response", "phenbench.metrics.dose_response:DoseResponse",
                     "Spearman dose-response of the most responsive features and lowest effective dose."),
        Registration("fd-cellprofiler", "phenbench.metrics.fd_cellprofiler:FDCellProfiler",
                     "Fréchet distance in standardised CellProfiler features (no pretrained weights)."),
        Registration("classifier", "phenbench.metrics.classifier:ConditionClassifier",
                     "Share of translated images a real-trained condition classifier assigns to the target."),
        Registration("moa-accuracy", "phenbench.metrics.moa_accuracy:MoaAccuracy",
                     "Share of translated cells a real-trained MoA classifier assigns to the target's MoA (ceiling, floor)."),
        Registration("source-fidelity", "phenbench.metrics.source_fidelity:SourceFidelity",
                     "Top-1 retrieval of each translated cell's source among K candidates (1 kept, 1/K lost)."),
        Registration("segmentation-failures", "phenbench.metrics.segmentation_failures:SegmentationFailures",
                     "Share of translated images without a plausible cell (blank, noise, a missing channel)."),
    ]
