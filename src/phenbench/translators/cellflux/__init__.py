"""CellFlux (Zhang et al., ICML 2025): conditional flow matching from control to treated cells."""
