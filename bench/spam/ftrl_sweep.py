#!/usr/bin/env python3
"""Sweep of the FTRL classifier's settings (ringmail-ftrl) with
bench/spam/evaluate.py: one evaluate.py run per setting, on the splits given
(tune on kfold, then check the cross splits), one table row per setting.

Usage: bench/spam/ftrl_sweep.py --ringmail BUILD/appliance/ringmail [--splits kfold]
           [--out DIR] SETTING...
SETTING is the extra `spam train` arguments in one string, e.g.
  "--ftrl-alpha 0.1 --ftrl-l1 1 --epochs 3"   ("" = the defaults)
Prints a markdown table: per split, recall at ham FP <= 0.1%, FP and FN at
the threshold (--ftrl-threshold, default 0.995)."""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TITLES = {"kfold": "stratified", "cross12": "train *-1, test *-2", "cross21": "train *-2, test *-1"}


def rows_of(report):
    """split title -> {row name: value of the ringmail-ftrl column}"""
    out, title = {}, None
    for line in report.splitlines():
        if line.startswith("## "):
            title = line[3:]
            out[title] = {}
        elif line.startswith("| ") and title and not line.startswith("| |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            out[title][cells[0]] = cells[1]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringmail", required=True)
    ap.add_argument("--splits", default="kfold")
    ap.add_argument("--out", default="/tmp/ftrl-sweep")
    ap.add_argument("--ftrl-threshold", default="0.995")
    ap.add_argument("settings", nargs="+")
    args = ap.parse_args()
    splits = args.splits.split(",")
    head = "| setting | " + " | ".join("%s rec / FP / FN" % s for s in splits) + " |"
    print(head)
    print("|---|" + "---|" * len(splits))
    for i, setting in enumerate(args.settings):
        out = os.path.join(args.out, "s%02d" % i)
        subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "--ringmail", args.ringmail,
                        "--classifiers", "ringmail-ftrl", "--splits", args.splits, "--out", out,
                        "--ftrl-args", setting, "--ftrl-threshold", args.ftrl_threshold],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(out, "report.md")) as f:
            rows = rows_of(f.read())
        cells = []
        for s in splits:
            r = next(v for k, v in rows.items() if k.startswith(TITLES[s]))
            fp = re.search(r"\((\d+)\)", r["false-positive rate"]).group(1)
            fn = re.search(r"\((\d+)\)", r["false-negative rate"]).group(1)
            cells.append("%s / %s / %s" % (r["spam recall at ham FP <= 0.1%"], fp, fn))
        print("| `%s` | %s |" % (setting or "(defaults)", " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()
