"""Fails when a source comment cites a file, or a section of a Markdown file, that the repository
does not have: every `name.h`, `dir/name.cc`, `proto/README.md`, `README.md "Section"` written in
a comment of common/, coordinator/, worker/, tests/, proto/, cmake/ or scripts/ must exist.

A file is found relative to the citing file's folder, to the repository root, or (a bare name
such as `dispatcher.h`) anywhere in the repository; a system header (`zmq.hpp`) in
/usr/include. A section is a heading of the Markdown file (README: the top README.md).
Run by scripts/test.sh's format step. Usage: check_citations.py [REPO_ROOT]
"""
import os
import re
import subprocess
import sys

ROOTS = ("common", "coordinator", "worker", "tests", "proto", "cmake", "scripts", "CMakeLists.txt")
C_LIKE = (".h", ".cc", ".cpp", ".proto")
HASH_COMMENTS = (".sh", ".py", ".cmake", ".txt")
CITED = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+(?:\.[\w-]+)*\.(?:md|h|hpp|cc|cpp|proto|py|sh|cmake))\b")
SECTION = re.compile(r"((?:[\w.-]+/)*[\w-]+\.md|README)\b[,:]? \"([^\"]+)\"")


def comments(path, text):
    """(line number, comment text) of each line of `path` that holds a comment."""
    for number, line in enumerate(text.splitlines(), 1):
        if path.endswith(C_LIKE):
            at = re.search(r"(?<![:\"])//", line)  # not a URL's "://"
        elif path.endswith(HASH_COMMENTS) or os.path.basename(path) == "CMakeLists.txt":
            at = re.search(r"(?:^|\s)#(?![!{])", line)
        else:
            at = None
        if at:
            yield number, line[at.end():]


def headings(markdown):
    return {re.sub(r"^#+\s*", "", line).strip() for line in markdown.splitlines() if line.startswith("#")}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    files = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
                           check=True, capture_output=True, text=True).stdout.split()
    names = {os.path.basename(f) for f in files}
    tracked = set(files)

    def resolve(citing, cited):
        for candidate in (os.path.normpath(os.path.join(os.path.dirname(citing), cited)), os.path.normpath(cited)):
            if candidate in tracked:
                return candidate
        if "/" not in cited and cited in names:
            return cited
        # An include path: pixelmill/pixelmill.h is coordinator/api/include/pixelmill/pixelmill.h.
        if "/" in cited and any(f.endswith("/" + cited) for f in tracked):
            return cited
        if cited.endswith(".pb.h") or os.path.exists(os.path.join("/usr/include", cited)):
            return cited
        return None

    problems = []
    for path in files:
        if not path.startswith(ROOTS) or not os.path.isfile(os.path.join(root, path)):
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for number, comment in comments(path, text):
            for cited in CITED.findall(comment):
                if resolve(path, cited) is None:
                    problems.append(f"{path}:{number}: cites {cited}, which is not in the repository")
            for cited, section in SECTION.findall(comment):
                target = resolve(path, "README.md" if cited == "README" else cited)
                if target is None or not target.endswith(".md") or not os.path.exists(os.path.join(root, target)):
                    continue  # a missing file is reported above
                with open(os.path.join(root, target), encoding="utf-8") as f:
                    if section not in headings(f.read()):
                        problems.append(f"{path}:{number}: cites {cited} \"{section}\", which has no such heading")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
