"""How hard the chaos suite pushes: BLAZEFUZZ_CHAOS_SCALE (default 1) multiplies
the number of kill points, fault points and iterations; nightly runs use 10+."""
import os

CHAOS_SCALE = max(1, int(os.environ.get("BLAZEFUZZ_CHAOS_SCALE", "1")))


def scaled(n: int) -> int:
    return n * CHAOS_SCALE
