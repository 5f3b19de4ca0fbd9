"""Prints how Python's configparser (as OfflineIMAP uses it) reads a file.

Usage: python3 configparser_oracle.py FILE...
Writes one JSON object per file, one per line:
  {"error_line": N}                       when reading fails, or
  {"sections": [[name, [[key, raw, value-or-null], ...]], ...]}
where "DEFAULT" comes first and each section lists its own keys in file
order followed by the inherited DEFAULT keys, value being the interpolated
value or null when interpolation fails. Used by the Go tests in ../ to
check the Go parser against Python's; it is not part of mailtrail.
"""
import configparser
import json
import sys


def read(path):
    c = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8-sig") as f:  # mailtrail skips a BOM
            c.read_file(f)
    except configparser.MissingSectionHeaderError as e:
        return {"error_line": e.lineno}
    except configparser.ParsingError as e:
        return {"error_line": min(n for n, _ in e.errors)}
    except configparser.Error as e:
        return {"error_line": e.lineno}
    out = []
    names = ["DEFAULT"] + c.sections()
    for name in names:
        own = c.defaults() if name == "DEFAULT" else c._sections[name]
        keys = list(own) + [k for k in c.defaults() if k not in own]
        opts = []
        for k in keys:
            raw = c.get(name, k, raw=True) if name != "DEFAULT" else c.defaults()[k]
            try:
                val = c.get(name, k) if name != "DEFAULT" else None
            except configparser.Error:
                val = None
            opts.append([k, raw, val])
        out.append([name, opts])
    return {"sections": out}


for p in sys.argv[1:]:
    print(json.dumps(read(p)))
