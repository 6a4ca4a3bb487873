#!/usr/bin/python3
"""Checks a /metrics reply with the Prometheus client's own text parser.

Usage: check_prometheus.py FILE

Fails (exit 1, reasons on stderr) unless the text parses as the Prometheus
text format 0.0.4, every family has a HELP and a TYPE line, and every counter's
name ends in _total. On success prints each sample on a line of its own,
`name{label="value",...} value` with the labels sorted, for the caller to
check values against.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    problems = []
    helps, types = set(), {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if line.startswith("# HELP ") and len(parts) >= 3:
            helps.add(parts[2])
        elif line.startswith("# TYPE ") and len(parts) >= 4:
            types[parts[2]] = parts[3]
    for name, kind in types.items():
        if name not in helps:
            problems.append(f"{name} has no HELP")
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"counter {name} does not end in _total")
    for name in helps:
        if name not in types:
            problems.append(f"{name} has no TYPE")
    lines = []
    try:
        for family in text_string_to_metric_families(text):
            # The parser drops a counter's _total from the family name.
            written = family.name + "_total" if family.type == "counter" else family.name
            if written not in types and family.name not in types:
                problems.append(f"samples of {family.name} without a TYPE line")
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                v = sample.value
                value = str(int(v)) if float(v).is_integer() else repr(v)
                lines.append(f"{sample.name}{{{labels}}} {value}")
    except ValueError as e:
        problems.append(f"does not parse: {e}")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
