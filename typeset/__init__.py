"""typeset: a print-layout pipeline for Chinese periodicals."""
