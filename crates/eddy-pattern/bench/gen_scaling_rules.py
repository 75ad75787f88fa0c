#!/usr/bin/env python3
"""Writes the scaling rule banks: SCALE_10, SCALE_1000, SCALE_10000 (exact MAPBLKLOT values and
STREET prefixes, deterministic) for `eddy pattern bench --rules`."""
import json, sys
def bank(n):
    rules = []
    for i in range(n):
        if i % 2 == 0:
            rules.append({"properties": {"MAPBLKLOT": ["%04d%03d" % (1 + (i * 7) % 7600, 1 + i % 999)]}})
        else:
            letters = "ABCDEFGHIJKLMNOPRSTUVWZ"
            p = letters[i % 23] + letters[(i // 23) % 23] + letters[(i // 529) % 23]
            rules.append({"properties": {"STREET": [{"prefix": p}]}})
    return rules
out = {"SCALE_%d_RULES" % n: bank(n) for n in (10, 1000, 10000)}
json.dump(out, open(sys.argv[1] if len(sys.argv) > 1 else "scaling-rules.json", "w"))
