"""Demo steps, in the order `make demo` runs them (module names in demo/steps/)."""

STEPS = [
    "provider",
    "earthquake_data",
    "earthquake_offsets",
    "earthquake_decomposition",
    "earthquake_gnss",
    "earthquake_vertical",
    "kilauea_gnss",
]
