"""A local BigCommerce-compatible Catalog API (modifiers subset) for the demo, tests and benchmarks."""
