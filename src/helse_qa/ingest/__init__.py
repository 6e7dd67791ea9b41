"""The write side: documents/ -> readers (text, pages, headings) -> chunks -> the index,
incrementally, through one index transaction; and the doctor that checks and repairs it."""
