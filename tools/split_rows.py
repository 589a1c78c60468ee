#!/usr/bin/env python3
"""split_rows.py: deterministic train/eval split of a CSV file by data-row index.

    tools/split_rows.py IN OUT_TRAIN OUT_EVAL [--mod 4] [--header]

Data row i (0-based, the header excluded) goes to OUT_EVAL when i % mod == 0, else to
OUT_TRAIN. With --header the first record is the header and is copied to both outputs.
Records are copied byte for byte (CRLF or LF endings and quoting kept); a record ends at a
newline outside double quotes, so quoted fields with commas or newlines stay whole.
Prints the row counts. Standard library only.
"""
import argparse
import sys


def records(data):
    """Yield the raw records of CSV bytes `data`, each with its line ending."""
    start, in_q, n = 0, False, len(data)
    i = 0
    while i < n:
        c = data[i]
        if c == 0x22:  # '"': RFC 4180 doubled quotes toggle twice, which is a no-op
            in_q = not in_q
        elif c == 0x0A and not in_q:
            yield data[start:i + 1]
            start = i + 1
        i += 1
    if start < n:
        yield data[start:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("out_train")
    ap.add_argument("out_eval")
    ap.add_argument("--mod", type=int, default=4, help="row i goes to eval when i %% mod == 0 (default 4)")
    ap.add_argument("--header", action="store_true", help="first record is a header: copy it to both")
    a = ap.parse_args()
    if a.mod < 2:
        sys.exit("split_rows.py: --mod must be at least 2")
    with open(a.input, "rb") as f:
        data = f.read()
    it = records(data)
    n_train = n_eval = 0
    with open(a.out_train, "wb") as ft, open(a.out_eval, "wb") as fe:
        if a.header:
            h = next(it, None)
            if h is None:
                sys.exit("split_rows.py: %s is empty (no header)" % a.input)
            ft.write(h)
            fe.write(h)
        for i, rec in enumerate(it):
            if not rec.endswith(b"\n"):  # last record without a line ending: give it one
                rec += b"\r\n" if data.find(b"\r\n") >= 0 else b"\n"
            if i % a.mod == 0:
                fe.write(rec)
                n_eval += 1
            else:
                ft.write(rec)
                n_train += 1
    print("%s: %d train rows -> %s, %d eval rows -> %s" % (a.input, n_train, a.out_train, n_eval, a.out_eval))


if __name__ == "__main__":
    main()
