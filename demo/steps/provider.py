"""Step 0: qgis_process sees the provider and lists its algorithms."""

import json


def run(demo):
    proc = demo.qgis_process("--json", "list")
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    provider = json.loads(proc.stdout)["providers"]["displacement"]
    algorithms = sorted(provider.get("algorithms", {}))
    demo.report(f"qgis_process lists provider '{provider['name']}' with {len(algorithms)} algorithm(s)")
    for alg in algorithms:
        demo.report(f"  {alg}")
