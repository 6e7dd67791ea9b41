"""Knows Norwegian and English: language detection, sentences, the domain glossary and the
word analysis (stems, compounds, question concepts) that BM25 and sentence scoring share.
Pure Python + PyStemmer."""
