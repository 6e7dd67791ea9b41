"""The index on disk: generations and the CURRENT pointer (layout), the one write
transaction (writer), the vector store (vectors: Chroma) and BM25 (bm25). The only home of
chromadb and bm25s."""
