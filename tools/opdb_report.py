"""The full PyTorch op_db / module_db parity run, as a report.

Runs every sample (no cap) of every row of the mapping table in ``tests/opdb_harness.py``
through tinygrad_edu and PyTorch, and classifies each one: pass, value / dtype / shape /
NaN-inf / gradient mismatch, our clear refusal, our own error, deep crash (exception type
and innermost frame, file:line), missing API, expected failure, not applicable. Prints

1. a table: one line per row (op or layer) with its counts per category,
2. the totals,
3. every failure, grouped by category (silent wrong answers first, then crashes, then
   what is missing), one line per distinct message with the number of samples and the
   first sample that shows it,
4. op_db and module_db entries with a plausible counterpart that we lack.

Run it from the repository root (it imports the harness from ``tests/``)::

    .venv/bin/python -m tools.opdb_report                 # everything (a few minutes)
    .venv/bin/python -m tools.opdb_report --only norm pad # rows whose id contains a word
    .venv/bin/python -m tools.opdb_report --limit 8       # the CI cap
    .venv/bin/python -m tools.opdb_report --reference     # also NaN, ±inf, -0. inputs
    .venv/bin/python -m tools.opdb_report --json out/opdb/report.json
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict

try:
    from tests import opdb_harness as H
except ModuleNotFoundError as exc:   # torch, expecttest, or not run as a module from the root
    sys.exit(f"opdb_report: {exc}. Run `python -m tools.opdb_report` from the repository "
             "root, with PyTorch and expecttest installed (bash tools/test.sh sets them up).")

#: the columns of the per-row table, in the report's order, with short headings
COLUMNS = ((H.PASS, "pass"), (H.XFAIL, "xfail"), (H.NOT_APPLICABLE, "n/a"), (H.VALUE, "value"),
           (H.NAN, "nan"), (H.DTYPE, "dtype"), (H.SHAPE, "shape"), (H.GRAD, "grad"),
           (H.CRASH, "crash"), (H.OUR_ERROR, "ourerr"), (H.REFUSAL, "refuse"),
           (H.MISSING, "missing"), (H.XPASS, "xpass"), (H.BAD_XFAIL, "badxf"))


def run_all(only: list[str], limit: int | None, progress: bool, reference: bool = False) -> list:
    """Every outcome of every selected op and module row (op rows on op_db's reference
    inputs instead of its sample inputs when ``reference``)."""
    outcomes = []
    cases = [("op", c) for c in H.op_cases()] + [("module", c) for c in H.module_cases()]
    cases = [c for c in cases if not only or any(w in c[1][0].id for w in only)]
    start = time.perf_counter()
    for n, (kind, case) in enumerate(cases, 1):
        if kind == "op":
            row, dtype = case
            outcomes += H.run_op(row, dtype, limit, reference)
        else:
            row, dtype, training = case
            outcomes += H.run_module(row, dtype, training, limit)
        if progress:
            print(f"\r{n}/{len(cases)} {row.id:<48} {time.perf_counter() - start:6.1f} s",
                  end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return outcomes


def row_table(outcomes: list) -> list[str]:
    """One line per row: its counterpart and how many samples ended in each category."""
    per_row: dict = defaultdict(Counter)
    counterpart = {}
    for o in outcomes:
        per_row[o.row_id][o.category] += 1
        counterpart[o.row_id] = o.counterpart
    head = f"{'row (op_db / module_db entry)':<44} {'ours':<30}" + "".join(
        f"{h:>8}" for _, h in COLUMNS)
    lines = [head, "-" * len(head)]
    for rid, counts in per_row.items():
        cells = "".join(f"{counts[c] or '':>8}" for c, _ in COLUMNS)
        lines.append(f"{rid[:44]:<44} {counterpart[rid][:30]:<30}{cells}")
    return lines


def _normalise(detail: str) -> str:
    """A failure message with its numbers blanked, so that samples failing the same way
    group together (values, shapes and counts differ from sample to sample)."""
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", detail)


def failure_sections(outcomes: list) -> list[str]:
    """Failures by category, then row, then distinct message (with a count and the first
    sample that shows it, and where it was raised)."""
    lines = []
    for cat in H.FAILURE_ORDER:
        of_cat = [o for o in outcomes if o.category == cat]
        if not of_cat:
            continue
        lines += ["", f"== {cat}: {len(of_cat)} samples in "
                      f"{len({o.row_id for o in of_cat})} rows =="]
        groups: dict = defaultdict(list)
        for o in of_cat:
            groups[(o.row_id, _normalise(o.detail), o.where)].append(o)
        for (rid, _, where), group in groups.items():
            first = group[0]
            lines.append(f"- {rid} ({first.counterpart}) x{len(group)} "
                         f"[{', '.join(sorted({g.dtype for g in group}))}]: {first.detail}")
            lines.append(f"    first sample: {first.sample}")
            if where:
                lines.append(f"    at: {where}")
    return lines


def lacking_section() -> list[str]:
    """op_db and module_db entries with a plausible counterpart we lack (not mapped, and
    not in the out-of-scope groups: linear algebra, FFT, complex, 3-D layers, ...)."""
    ops = H.unmapped_plausible()
    mods = H.unmapped_modules()
    lines = ["", f"== op_db entries with a plausible counterpart we lack ({len(ops)}) =="]
    line = ""
    for name in ops:
        if len(line) + len(name) > 96:
            lines.append(line.rstrip())
            line = ""
        line += name + "  "
    lines.append(line.rstrip())
    lines += ["", f"== module_db layers we lack ({len(mods)}) ==", "  ".join(mods)]
    lines += ["", "Out of scope (not listed above): " + "; ".join(
        list(H.OUT_OF_SCOPE_PREFIXES.values())[:6] + list(H.OUT_OF_SCOPE_NAMES))]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=[],
                        help="run only rows whose id contains one of these words")
    parser.add_argument("--limit", type=int, default=None,
                        help="samples per op, dtype and mode (default: all)")
    parser.add_argument("--reference", action="store_true",
                        help="op rows run op_db's reference inputs: the sample inputs and "
                             "more, with NaN, ±inf, -0. and extreme values for elementwise ops")
    parser.add_argument("--json", help="also write every outcome to this JSON file")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    outcomes = run_all(args.only, args.limit, not args.no_progress, args.reference)
    counts = H.totals(outcomes)
    print("\n".join(row_table(outcomes)))
    print("\n== totals ==")
    print("\n".join(H.summary_lines(counts, capped=args.limit is not None)))
    print("\n".join(failure_sections(outcomes)))
    if not args.only:
        print("\n".join(lacking_section()))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([asdict(o) for o in outcomes], fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
