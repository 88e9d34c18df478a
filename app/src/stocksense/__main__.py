"""`python -m stocksense ...` (the web layer runs training this way)."""

from stocksense.cli import main

main()
