#!/usr/bin/env python3
"""Checks that every code excerpt in a markdown file equals the marked region of its source.

An excerpt is a line `<!-- excerpt FILE NAME -->` followed by a ```cpp block; the source
FILE (relative to SOURCE_DIR) marks the region with `// [excerpt NAME]` and `// [end excerpt]`.
Usage: check_excerpts.py MARKDOWN SOURCE_DIR. Exits 1 listing every mismatch.
"""
import pathlib
import re
import sys


def region(source: pathlib.Path, name: str):
    lines = source.read_text().splitlines()
    start = [i for i, l in enumerate(lines) if l.strip() == f"// [excerpt {name}]"]
    if len(start) != 1:
        return None
    out = []
    for line in lines[start[0] + 1:]:
        if line.strip() == "// [end excerpt]":
            return out
        out.append(line)
    return None


def main() -> int:
    markdown, source_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    text = markdown.read_text().splitlines()
    errors, count = [], 0
    for i, line in enumerate(text):
        m = re.fullmatch(r"<!-- excerpt (\S+) (\S+) -->", line.strip())
        if not m:
            continue
        count += 1
        file, name = m.groups()
        if i + 1 >= len(text) or text[i + 1].strip() != "```cpp":
            errors.append(f"{markdown}:{i + 1}: excerpt {file} {name} is not followed by a ```cpp block")
            continue
        block = []
        for l in text[i + 2:]:
            if l.strip() == "```":
                break
            block.append(l)
        src = source_dir / file
        want = region(src, name) if src.exists() else None
        if want is None:
            errors.append(f"{markdown}:{i + 1}: no region '// [excerpt {name}]' in {src}")
        elif [l.rstrip() for l in want] != [l.rstrip() for l in block]:
            errors.append(f"{markdown}:{i + 1}: excerpt {file} {name} differs from the source")
    for e in errors:
        print(e)
    print(f"{count} excerpts checked, {len(errors)} mismatched")
    return 1 if errors or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
