"""Run every benchmark: `python -m tests.bench` (what `make bench` does)."""

from tests.bench import upload

if __name__ == "__main__":
    upload.main()
