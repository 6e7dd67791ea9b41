"""Training the reader (a cross-encoder) on external data only: NorQuAD, SweQUAD-MC, SQuAD
v1.1 dev and XQuAD from ``../shared/benchmarks``, never ``eval/``. Imported only by the CLI
(``helse-qa train-reader``, ``make train-reader``)."""
