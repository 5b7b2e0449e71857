"""Demo steps, in the order `make demo` runs them (module names in demo/steps/)."""

STEPS = [
    "provider",
    "earthquake_data",
    "kilauea_gnss",
]
