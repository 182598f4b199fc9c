"""Test fixture: a failure reachable only with Python branch coverage.

Each stage is a branch on a residue of a multiple of one input byte, so
libFuzzer's comparison hints (the constant compared with) do not give the
byte away; every stage reached is new branch
coverage, so a fuzzer that sees the branch counters keeps each partial solution
in its corpus and climbs the chain stage by stage. Without branch coverage all
four bytes must be guessed at once (one input in about 1.8 million).
"""


class BranchChainSolved(AssertionError):
    """The failure at the end of the chain."""


def test_one_input(data: bytes) -> None:
    # One `if` per stage on purpose: each stage must be a branch of its own.
    if len(data) < 4:
        return
    if data[0] * 7 % 29 == 11:  # noqa: SIM102
        if data[1] * 7 % 31 == 12:  # noqa: SIM102
            if data[2] * 7 % 37 == 13:  # noqa: SIM102
                if data[3] * 7 % 53 == 14:
                    raise BranchChainSolved("every stage of the branch chain was reached")
