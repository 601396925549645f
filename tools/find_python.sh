#!/bin/sh
# Print the first Python >= 3.12 on this machine, or explain in one line what to do and fail.
# Order: $PYTHON, what .python-version selects (pyenv), then the newest named interpreters.
for candidate in "${PYTHON:-}" python3 python3.14 python3.13 python3.12 python; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        command -v "$candidate"
        exit 0
    fi
done
found=$(python3 --version 2>&1 || echo "no python3")
echo "Python 3.12 or newer is needed (Django 6.1 requires it); found: $found." >&2
echo "Install one (e.g. 'pyenv install 3.13', 'apt-get install python3.13', or conda: see README) or run 'make PYTHON=/path/to/python3.13 ...'." >&2
exit 1
