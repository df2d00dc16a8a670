"""Counts of `make mutation` per module, from mutmut's result files under mutants/, and the survivors.

    python -m tests.support.mutation_summary [MUTANTS_DIR]

Prints one line per mutated module (killed, survived, no tests, timeout, other, total), then each
surviving mutant's name: `mutmut show NAME` shows its diff.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code


def summarise(mutants: Path) -> tuple[dict[str, Counter[str]], list[str]]:
    """Per module, how many mutants ended in each status; and the names of the survivors."""
    counts: dict[str, Counter[str]] = {}
    survivors: list[str] = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = str(meta.relative_to(mutants))[: -len(".meta")]
        results = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        tally = counts.setdefault(module, Counter())
        for name, exit_code in sorted(results.items()):
            status = status_by_exit_code[exit_code]
            tally[status] += 1
            if status == "survived":
                survivors.append(name)
    return counts, survivors


def main() -> None:
    mutants = Path(sys.argv[1] if len(sys.argv) > 1 else "mutants")
    counts, survivors = summarise(mutants)
    columns = ("killed", "survived", "no tests", "timeout")
    print(f"{'module':<32}" + "".join(f"{c:>10}" for c in (*columns, "other", "total")))
    for module, tally in counts.items():
        other = sum(n for status, n in tally.items() if status not in columns)
        print(f"{module:<32}" + "".join(f"{tally[c]:>10}" for c in columns) + f"{other:>10}{sum(tally.values()):>10}")
    print(f"\n{len(survivors)} survived:")
    for name in survivors:
        print(f"  {name}")


if __name__ == "__main__":
    main()
